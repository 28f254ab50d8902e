"""A fake plugin executor: records every call, answers from scripted plugins."""

from __future__ import annotations

import json

from hull.cni.invoke import Invocation, PluginExec, plugin_error


class FakeExec(PluginExec):
    """``plugins`` maps a plugin type to a function (invocation, stdin dict) -> dict | None;
    a returned {"code": ...} becomes that plugin's error."""

    def __init__(self, plugins: dict):
        self.plugins = plugins
        self.calls: list[tuple[str, str, dict, Invocation]] = []

    def run(self, plugin_path, invocation, stdin, timeout):
        kind = plugin_path.rsplit("/", 1)[-1]
        conf = json.loads(stdin)
        self.calls.append((kind, invocation.command, conf, invocation))
        answer = self.plugins[kind](invocation, conf)
        if isinstance(answer, dict) and "code" in answer:
            raise plugin_error(kind, invocation.command, answer["code"], answer["msg"], answer.get("details", ""))
        return json.dumps(answer).encode() if answer is not None else b""

    def commands(self):
        return [(kind, command) for kind, command, _, _ in self.calls]


def write_conflist(conf_dir, plugins, name="testnet", version="1.0.0", filename="10-test.conflist", **extra):
    data = {"cniVersion": version, "name": name, "plugins": plugins, **extra}
    (conf_dir / filename).write_text(json.dumps(data))
    return data
