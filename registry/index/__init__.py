"""The shared, persistent digest index (issue 16): one follower writes it, every worker and
replica of ``registry serve`` reads it.

- :mod:`.schema`: the tables (their own small versioned schema, not the issuer's migrations);
- :mod:`.db`: opening the index database (``REGISTRY_INDEX_URL``), the follower's lock;
- :mod:`.writes` / :mod:`.reads`: the SQL of the follower and of the readers;
- :mod:`.writer`: the follower's index (the in-memory rules of ``DigestIndex``, kept in the database);
- :mod:`.follower`: the follower (``registry index follow``, or a leader elected among the workers);
- :mod:`.replica`: what a worker reads: the index (``SharedIndex``) and the recorded events that
  invalidate its chain reader's cache (``ReplicaSync``).
"""
