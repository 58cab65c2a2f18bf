"""The SpotWatch operator: `kopf run -m spotter.operator --namespace NS` (or --all-namespaces).

Importing the package registers the kopf handlers. Pure parts (planning, manifests, status)
import nothing from kopf; kube is the only module that talks to the API server.
"""

from spotter.operator import handlers as handlers  # registers the kopf handlers
