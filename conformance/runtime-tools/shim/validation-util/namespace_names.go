// hull's stand-in for a util helper the namespace programs call; the build
// copies it only when the upstream util package lacks the function.
package util

// GetRuntimeToolsNamespace maps a /proc/*/ns/ name to the runtime-spec
// (generate package) name of the same namespace.
func GetRuntimeToolsNamespace(ns string) string {
	switch ns {
	case "mnt":
		return "mount"
	case "net":
		return "network"
	}
	return ns
}
