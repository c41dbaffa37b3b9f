"""minikube_py: a small Kubernetes-style system that runs real Linux processes in real pod sandboxes.

Importing the package has no side effects.
"""

__version__ = "0.1.0"
