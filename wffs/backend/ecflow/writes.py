"""The few writes a mirror needs on the local server (its line kept in a variable, the task never
submitted, states and values forced), and the remote node's state a mirror follows.  Part of
EcflowSession (see session.py), whose attributes it uses."""

from __future__ import annotations

import ecflow

from wffs.backend.ecflow import att as ecflow_att

#: Where a mirror's configuration is kept on the local server, with the node (visible in ecflow_ui).
MIRROR_VARIABLE = "WFFS_MIRROR"
#: Keeps the local server from submitting a mirrored task; this value marks it as ours to remove.
DUMMY_VARIABLE = "ECF_DUMMY_TASK"
DUMMY_MARK = "wffs mirror"
STATES = ("unknown", "queued", "submitted", "active", "complete", "aborted")


class MirrorWrites:
    """What a mirror asks of a server: the variables it resolves with, its own line, states and values."""

    def op_variables(self, path: str) -> dict:
        """Every variable visible from a node, to resolve %VAR% and the ECF_MIRROR_* defaults."""
        return ecflow_att.visible_variables(self.node(path), self.server_vars)

    def op_set_mirror(self, path: str, line: str) -> None:
        node = self.node(path)
        own = dict(ecflow_att.own_variables(node))
        if DUMMY_VARIABLE not in own:  # first, so that the server never submits a half-mirrored task
            self.set_variable(path, DUMMY_VARIABLE, DUMMY_MARK, exists=False)
        self.set_variable(path, MIRROR_VARIABLE, line, exists=MIRROR_VARIABLE in own)

    def op_clear_mirror(self, path: str) -> None:
        own = dict(ecflow_att.own_variables(self.node(path)))
        if MIRROR_VARIABLE in own:
            self.call(self.client.alter, path, "delete", "variable", MIRROR_VARIABLE)
        if own.get(DUMMY_VARIABLE) == DUMMY_MARK:
            self.call(self.client.alter, path, "delete", "variable", DUMMY_VARIABLE)

    def set_variable(self, path: str, name: str, value: str, exists: bool) -> None:
        self.call(self.client.alter, path, "change" if exists else "add", "variable", name, value)

    def op_node_state(self, path: str) -> dict:
        """A remote node's state and its labels, meters and events (what a mirror follows)."""
        node = self.node(path)
        return {"state": str(node.get_state()), **ecflow_att.current_state(node)}

    def op_set_state(self, path: str, state: str) -> None:
        if state not in STATES:
            raise ValueError(f"not a state: {state}")
        self.call(self.client.force_state, path, getattr(ecflow.State, state))

    def op_set_values(self, path: str, labels: dict, meters: dict, events: dict) -> None:
        for name, value in labels.items():
            self.call(self.client.alter, path, "change", "label", name, value)
        for name, value in meters.items():
            self.call(self.client.alter, path, "change", "meter", name, str(value))
        for name, value in events.items():
            self.call(self.client.force_event, f"{path}:{name}", "set" if value else "clear")
