"""Which server answers for a path: one server at the mount point, or a directory per server.

`wffs mount HOST PORT MNT` puts one server's layout at MNT; `wffs mount --config FILE MNT` puts each
server's layout under MNT/<name>/ and adds MNT/.events, the event logs of all servers merged.
"""

from __future__ import annotations

from typing import Optional, Sequence

from wffs import layout
from wffs.events import EventLog
from wffs.layout import Kind
from wffs.vfs import Entry, NotFound, Vfs


class Tree:
    def __init__(self, servers: dict, *, single: bool):
        self.servers: dict[str, Vfs] = servers
        self.single = single
        self.events = EventLog()  # MNT/.events of a several-server mount
        self._tagged: dict[tuple, tuple] = {}  # path -> (a server's listing, the same tagged with the server)

    def route(self, components: Sequence[str]) -> tuple[str, Vfs, tuple]:
        """(server name, its Vfs, the path inside its layout)."""
        if self.single:
            name = next(iter(self.servers))
            return name, self.servers[name], tuple(components)
        vfs = self.servers.get(components[0]) if components else None
        if vfs is None:
            raise NotFound("/".join(components))
        return components[0], vfs, tuple(components[1:])

    def prefix(self, server: str) -> tuple:
        """Where a server's layout starts below the mount point."""
        return () if self.single else (server,)

    def _root_entries(self) -> list[Entry]:
        entries = []
        for n in layout.mount_root_names(self.servers):
            if n.kind is Kind.EVENTS:
                entries.append(Entry(n.name, n.kind, "/", n.file, len(self.events), self.events.changed_at,
                                     volatile=True))
            else:
                vfs = self.servers[n.name]
                entries.append(Entry(n.name, Kind.DIR, "/", "", 0, vfs.changed_at, server=n.name))
        return entries

    def listdir(self, components: Sequence[str]) -> list[Entry]:
        if not self.single and not components:
            return self._root_entries()
        server, vfs, inside = self.route(components)
        entries = vfs.listdir(inside)
        if self.single:  # entries of the only server need no tag (vfs_of knows it)
            return entries
        held = self._tagged.get(tuple(components))
        if held is None or held[0] is not entries:  # tagged once per listing the Vfs hands out
            held = (entries, [e._replace(server=server) for e in entries])
            self._tagged[tuple(components)] = held
        return held[1]

    async def lookup(self, components: Sequence[str], file_name: str) -> Entry:
        if not self.single and not components:
            for entry in self._root_entries():
                if entry.name == file_name:
                    return entry
            raise NotFound(file_name)
        server, vfs, inside = self.route(components)
        entry = await vfs.lookup(inside, file_name)
        return entry if self.single else entry._replace(server=server)

    def cached_file(self, path: Sequence[str]) -> Optional[tuple[Entry, bytes]]:
        """(entry, content) of a file whose content is at hand, else None (see Vfs.cached_file)."""
        if len(path) < (1 if self.single else 2):
            return None
        try:
            server, vfs, inside = self.route(path[:-1])
        except NotFound:
            return None
        found = vfs.cached_file(inside, path[-1])
        if found is None or self.single:
            return found
        return found[0]._replace(server=server), found[1]

    def vfs_of(self, entry: Entry) -> Vfs:
        if self.single:
            return next(iter(self.servers.values()))
        return self.servers[entry.server]

    def event_log(self, entry: Entry) -> EventLog:
        """MNT/.events of a several-server mount, else the log of the entry's server."""
        if not self.single and not entry.server:
            return self.events
        return self.vfs_of(entry).events

    async def content(self, entry: Entry) -> bytes:
        if entry.kind is Kind.EVENTS:
            log = self.event_log(entry)
            return log.read(0, len(log))
        return await self.vfs_of(entry).content(entry)

    def control_node(self, components: Sequence[str], file_name: str) -> tuple[Vfs, str]:
        """The Vfs and the task a control file stands for (see Vfs.control_node)."""
        if not self.single and not components:
            raise NotFound(file_name)
        _server, vfs, inside = self.route(components)
        return vfs, vfs.control_node(inside, file_name)
