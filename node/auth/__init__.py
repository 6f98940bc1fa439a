"""Who may call the client port: the cluster's credential records (store.py). Request signatures
and key records are shared with clients in `ringstore.auth`; the check itself is node/api/auth.py."""
