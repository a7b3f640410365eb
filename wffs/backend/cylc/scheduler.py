"""The workflow's scheduler, asked through Cylc's own client (an asyncio loop over ZMQ: here, in the
worker, never in the mount).  Part of CylcSession (see session.py), whose attributes it uses."""

from __future__ import annotations

import os
from typing import Optional

from wffs.backend.protocol import Unavailable

LAST_UPDATED = "{ workflows { id lastUpdated status } }"


class Scheduler:
    """Scheduler requests; self.pb, the last snapshot of the whole workflow (None when stopped)."""

    def request(self, command: str, args: Optional[dict] = None, timeout: Optional[float] = None):
        from cylc.flow.exceptions import ClientError, ClientTimeout, CylcError, WorkflowStopped

        try:
            if self.client is None:
                from cylc.flow.network.client import WorkflowRuntimeClient

                self.client = WorkflowRuntimeClient(self.workflow, timeout=self.timeout)
            return self.client.serial_request(command, args, timeout=timeout)
        except WorkflowStopped:
            self.drop_client()
            raise Unavailable("stopped") from None
        except (ClientTimeout, ClientError, CylcError, OSError) as e:
            self.drop_client()
            raise Unavailable(" ".join(str(e).split())[:300] or type(e).__name__) from None

    def drop_client(self) -> None:
        """Close the client's socket; the next request makes a new one (the scheduler may have moved)."""
        client, self.client = self.client, None
        if client is not None:
            try:
                client.stop(stop_loop=False)
            except Exception:  # closing is best effort
                pass

    def graphql(self, query: str) -> dict:
        return self.request("graphql", {"request_string": query, "variables": {}})

    def fetch_scheduler(self) -> bool:
        """Bring self.pb in step with the scheduler; True if it changed.  A stopped scheduler: pb None."""
        try:
            answer = self.graphql(LAST_UPDATED)
            if not self.synced:  # a small request: the whole workflow, next, may take a while
                self.report("the scheduler answered; fetching the workflow")
            flows = answer.get("workflows") or []
            last = flows[0]["lastUpdated"] if flows else None
            if self.pb is not None and last == self.last_updated:
                return False
            from cylc.flow.data_messages_pb2 import PbEntireWorkflow

            # the first one may be big: the mount allows a first sync FULL_SYNC_TIMEOUT (60 s)
            data = self.request("pb_entire_workflow", timeout=None if self.synced else max(self.timeout, 30.0))
            pb = PbEntireWorkflow()
            pb.ParseFromString(data)
            self.pb, self.last_updated = pb, pb.workflow.last_updated
            self.status = pb.workflow.status or "running"
            self.version = "cylc-flow " + pb.workflow.cylc_version
            return True
        except Unavailable as e:
            if not os.path.isdir(self.run_dir):
                raise Unavailable(f"no workflow {self.workflow} ({self.run_dir}: not a directory)") from None
            if str(e) != "stopped" and not self.stopped():
                raise
            if not self.synced:
                self.report("the workflow is stopped; reading its database")
            changed = self.pb is not None or self.status != "stopped"
            self.pb, self.last_updated, self.status = None, None, "stopped"
            return changed

    def stopped(self) -> bool:
        return not os.path.exists(os.path.join(self.run_dir, ".service", "contact"))
