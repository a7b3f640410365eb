"""The Cylc 8 backend: the mount's side (backend) and the worker process that talks to the scheduler.

Kept light: the worker process imports this package too, and needs none of the mount's side.
"""
