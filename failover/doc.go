// Package failover owns the replicated store of HTTP sessions (their
// timeout, last access and attributes) and their WebSocket user
// properties, over hashicorp/memberlist: when a node dies, a client that
// reconnects (through a session-routing proxy) to another node finds its
// session and properties there.
//
// It must not import the container or gnet: the container imports it.
//
// # Tour
//
//   - Node (node.go) is this process's member of the cluster: memberlist
//     for membership and failure detection, with every message encrypted
//     and labelled (Config.Key is required), and a request/response data
//     plane over memberlist's reliable (TCP) user messages. A node that
//     finds itself alone joins its configured peers again.
//   - Space (store.go) is one web context's share of the store. The node
//     that serves a session is its primary: Save queues a change
//     (write-behind, sent within FlushInterval or at Flush) and SaveSync
//     waits for the backups' acknowledgements (write-through). Backups are
//     the first Config.Backups other members by rendezvous hashing; when
//     the membership changes, every primary sends its sessions again.
//     Restore, on a node that does not serve the session, asks the others,
//     takes the newest version and claims it with a higher epoch: the old
//     primary's later changes are refused (stale). Invalidate leaves
//     tombstones so that no older copy comes back.
//   - The codec (codec.go) is what "serializable" means here: a closed set
//     of Go types plus registered encoding.BinaryMarshaler types, encoded
//     canonically, decoded from peers with limits.
//   - wire.go is the data plane's message format, decoded with limits.
//
// Promises: a change SaveSync acknowledged survives the loss of its
// primary and of Config.Backups-1 more nodes; a Save'd change survives the
// loss of its primary once FlushInterval has passed and the backups were
// reachable. Nothing is promised across concurrent writers of one session
// on two nodes (the newer epoch wins) or inside a partition: both sides
// keep serving.
package failover
