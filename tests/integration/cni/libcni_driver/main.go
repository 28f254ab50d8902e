// libcni-driver: drives CNI plugins through the reference runtime library
// (libcni), the way cnitool does, so tests can check hull's plugins under
// the reference runtime. Usage:
//
//	CNI_PATH=dirs [CAP_ARGS=json] [CACHE_DIR=dir] libcni-driver add|check|del CONFDIR NETNAME NETNS CONTAINERID
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containernetworking/cni/libcni"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 6 {
		fail(fmt.Errorf("usage: %s add|check|del CONFDIR NETNAME NETNS CONTAINERID", os.Args[0]))
	}
	command, confDir, netName, netns, containerID := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	list, err := libcni.LoadConfList(confDir, netName)
	if err != nil {
		fail(err)
	}
	cni := libcni.NewCNIConfig(filepath.SplitList(os.Getenv("CNI_PATH")), nil)
	rt := &libcni.RuntimeConf{ContainerID: containerID, NetNS: netns, IfName: "eth0",
		CacheDir: os.Getenv("CACHE_DIR")}
	if caps := os.Getenv("CAP_ARGS"); caps != "" {
		if err := json.Unmarshal([]byte(caps), &rt.CapabilityArgs); err != nil {
			fail(err)
		}
	}
	ctx := context.Background()
	switch command {
	case "add":
		result, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(err)
		}
		if err := result.Print(); err != nil {
			fail(err)
		}
	case "check":
		err = cni.CheckNetworkList(ctx, list, rt)
	case "del":
		err = cni.DelNetworkList(ctx, list, rt)
	default:
		err = fmt.Errorf("unknown command %q", command)
	}
	if err != nil {
		fail(err)
	}
}
