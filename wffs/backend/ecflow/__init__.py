"""The ecFlow backend: the mount's side (backend) and the worker process that calls the `ecflow` binding.

Kept light: the worker process imports this package too, and needs none of the mount's side.
"""
