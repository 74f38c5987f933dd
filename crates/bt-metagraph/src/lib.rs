//! The metagraph: who is out there.
//!
//! Two layers, as DESIGN.md §3 "Metagraph (gossip)" asks:
//!
//! - [`MetagraphTable`] — a pure, bounded table of verified synapse definitions, their
//!   heartbeats and local weights, plus the metagraph peers we know. No I/O, no clock, no
//!   randomness of its own: time and seeds are arguments, so every behaviour is reproducible.
//!   It implements the seeds' operations: `subscribe`, `sink`, `clean(ttl)`, `peers(n)`,
//!   `synapses(n)`, `weights`, `set_weights`.
//! - The gossip service ([`MetagraphNode`]): a tonic `Metagraph.Gossip` server and a
//!   loop that pushes a sample of the table to a random peer every interval and merges the
//!   answer.
//!
//! Every definition is checked before it enters: structure ([`validate`]), then proof of work,
//! the Ed25519 signature by `neuron_key` and the synapse proof (the Ed25519 signature by
//! `synapse_key` binding it to `neuron_key` at its endpoint, made where the synapse's secret
//! lives: [`OwnSynapse::proven`]) through a [`SynapseVerifier`]. Rejections are counted per
//! [`Rejection`] reason and never stored. Batches are read by [`codec`], which counts and sizes
//! entries before it decodes any.
//!
//! ## The heartbeat on the wire
//! Release 1's `Synapse` has no time field. We carry the announce time in `block_hash` as the
//! decimal number of milliseconds since the Unix epoch (e.g. `"1763780000123"`). `block_hash`
//! is covered by the signature, so a relay cannot refresh or age a definition; a newer
//! heartbeat replaces an older one; heartbeats more than `max_future_skew_ms` ahead of the
//! receiver's clock, or older than the TTL, are refused.
//!
//! ## Peers
//! `GossipBatch.peers` holds metagraph addresses; by our convention the first one is the
//! sender's own, believed as a claim only when its IP is the connection's source IP. A peer is
//! proven only by a successful call of ours (the challenge), and a proven peer is never
//! evicted for a newcomer, so a flood of addresses cannot eclipse a node. Proven peers are
//! forwarded for one TTL, others for half a TTL; a peer is dropped after
//! `max_peer_failures` consecutive failed calls or a TTL without evidence, and then ignored
//! second hand for one TTL (a tombstone), which damps the re-circulation of dead addresses.
//! A node known by two names (a bootstrap address other than the one it advertises) is one
//! peer: the other name is dropped once its advertised name has shown it is alive, and at
//! once when the name is our own ([`MetagraphTable::peer_alias`]).
//!
//! ## What a gossip call carries
//! Every round a node calls one peer chosen uniformly (failing peers less often).
//! - The push is our own definitions plus a *window*: consecutive synapse keys starting where
//!   our previous exchange ended (a sweep cursor), so each node reconciles key space in order
//!   instead of at random points (random points leave a coupon collector's tail: ~N/k·ln N
//!   rounds for the last keys).
//! - A window proves which keys the pusher holds in the range it spans, so the answer carries
//!   our own definitions, then up to half the sample of our *newest* keys (news spreads as a
//!   rumour, O(log N) rounds, instead of once per sweep), then exactly what the pusher lacks
//!   in that range, then what it holds with an older heartbeat, then a window continuing
//!   after it — anti-entropy within the Release 1 schema. The pusher's cursor moves to the
//!   answer's last key. A push that is not a window (a Release 1 peer) is answered with a
//!   random window.
//! - The sample is `sample_synapses` (256) or half the table, whichever is larger, at most
//!   `max_batch_synapses` (1024): with ~280-byte signed definitions, every node of an
//!   N-node network must receive ~280·N bytes, and a fixed sample makes that take O(N)
//!   rounds.
//! - Our own definitions are re-sealed `heartbeats_per_ttl` (6) times per TTL, not every
//!   round: sealing costs 2^difficulty hashes.
//!
//! `cargo bench -p bt-metagraph --bench convergence` measures rounds to convergence in
//! virtual time ([`sim`]).
//!
//! ## Inspecting a node
//! A `Gossip` call with an empty batch is allowed and side-effect free (the caller is not
//! added): the node answers with its own definitions and a random window, `inspect_sample`
//! (256) in all, plus its proven peers, at most once per `inspect_interval` per source
//! address (a free copy of the whole table is a scraping amplifier). See [`inspect`],
//! [`render_table`], [`render_json`].

mod client;
pub mod codec;
pub mod config;
pub mod error;
pub mod info;
mod node;
pub mod sample;
mod server;
mod service;
pub mod sim;
mod source;
pub mod table;
mod throttle;
pub mod validate;
pub mod verify;

pub use client::inspect;
pub use codec::{BatchLimits, BoundedBatch, decode_bounded};
pub use config::{DEFAULT_DIFFICULTY_BITS, MetagraphConfig};
pub use node::{MetagraphHandle, MetagraphNode, OwnSynapse};

pub use error::MetagraphError;
pub use info::{render_json, render_table, synapse_info};
pub use table::{CleanReport, MetagraphTable, SinkReport, TableConfig, Triage};
pub use validate::{PeerAddr, Rejection};
pub use verify::{CryptoVerifier, PreVerified, SynapseVerifier, VerifiedSynapse};
