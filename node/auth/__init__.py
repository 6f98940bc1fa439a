"""Who may call the client port: the caller of a call (principal.py), share link records and their
check at use (links.py), the cluster's credential records (store.py) and what each caller may do
(policy.py). Dependency order: principal <- links <- store <- policy. Request signatures, key records
and share link tokens are shared with clients in `ringstore.auth`; the interceptor is node/api/auth.py."""
