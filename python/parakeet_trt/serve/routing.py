"""Which replica takes a new request: the one with the fewest requests in flight, wherever it runs.

Ray Serve's default router prefers replicas on the proxy's own node and moves elsewhere only when
those are at ``max_ongoing_requests``, and it ranks replicas by a queue-length cache refreshed every
few seconds; for long-lived streams that piles every stream on the head node's replicas until they
refuse (1013) while other nodes idle. This router counts the requests it routed and has not seen
complete (a stream counts until it closes) and offers the least loaded replicas first. The counts are
the proxy's: exact with one proxy (``proxy_location=HeadOnly``, what ``parakeet-trt serve`` starts).
"""

from collections import Counter
from itertools import groupby

from ray.serve.request_router import FIFOMixin, RequestRouter


class LeastLoadedRouter(FIFOMixin, RequestRouter):
    def initialize_state(self, **kwargs):
        self.in_flight: Counter = Counter()

    def on_request_routed(self, pending_request, replica_id, result):
        self.in_flight[replica_id] += 1

    def on_request_completed(self, replica_id, internal_request_id):
        self.in_flight[replica_id] = max(0, self.in_flight[replica_id] - 1)

    def on_replica_actor_died(self, replica_id):
        super().on_replica_actor_died(replica_id)
        self.in_flight.pop(replica_id, None)

    async def choose_replicas(self, candidate_replicas, pending_request=None):
        """Ranks of equally loaded replicas, least loaded first (Ray tries them in order)."""
        def load(replica):
            return self.in_flight[replica.replica_id]

        return [list(group) for _, group in groupby(sorted(candidate_replicas, key=load), key=load)]
