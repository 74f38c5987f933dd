//! The axon's sessions: a bounded, expiring table that authenticates each request of a session.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;

use crate::error::clip;
use crate::wallet::AccountId;
use crate::{CryptoError, PublicKey};

use super::headers::SessionProof;
use super::key::{SessionId, SessionKey};
use super::mac::SessionMac;
use super::replay_window::{CounterRefusal, ReplayWindow};

/// Bounds and lifetimes of a [`SessionTable`]. Times are nanoseconds of whatever monotonic
/// clock the owner passes in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Sessions at once. When full, the least recently used session is dropped for a new one
    /// only if it has been unused for `protect_recent_ns`; otherwise the new session is
    /// refused (its caller goes on signing each request), so a flood of handshakes cannot
    /// push out sessions in use. A session costs about 300 bytes.
    pub capacity: usize,
    /// A session used this recently is never dropped to make room for another caller's.
    pub protect_recent_ns: u64,
    /// Sessions opened from one source address at once (only counted for handshakes that name
    /// their source), so one address minting keys cannot fill the table.
    pub per_source: usize,
    /// Sessions of one caller key at once; beyond it the caller's oldest is dropped, so one
    /// key cannot take the whole table.
    pub per_caller: usize,
    /// A session unused this long is dropped.
    pub idle_ttl_ns: u64,
    /// A session this old is dropped however busy (bounds the use of one key).
    pub max_age_ns: u64,
    /// When the table is full, drop the oldest session that has not yet authenticated a
    /// request before any session in use (a flood of handshakes then only displaces other
    /// handshakes, whatever their age). Off for the gRPC axon, whose sessions are opened by
    /// callers that use them at once; on for the HTTP axon. Default `false`.
    pub evict_unconfirmed_first: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            capacity: 16_384,
            protect_recent_ns: 60_000_000_000,
            per_source: 1_024,
            per_caller: 8,
            idle_ttl_ns: 300_000_000_000,
            max_age_ns: 3_600_000_000_000,
            evict_unconfirmed_first: false,
        }
    }
}

/// Who may own a session: a key the table groups sessions by (`per_caller`).
pub trait SessionCaller: Copy {
    fn key_bytes(&self) -> [u8; 32];
}

impl SessionCaller for PublicKey {
    fn key_bytes(&self) -> [u8; 32] {
        *self.as_bytes()
    }
}

/// HTTP sessions belong to sr25519 hotkeys.
impl SessionCaller for AccountId {
    fn key_bytes(&self) -> [u8; 32] {
        self.0
    }
}

/// A request a session authenticated: its owner and the session's MAC (for answering it).
#[derive(Debug)]
pub struct Authenticated<C> {
    pub caller: C,
    pub mac: SessionMac,
}

struct Session<C> {
    source: Option<IpAddr>,
    caller: C,
    caller_hex: String,
    mac: SessionMac,
    window: ReplayWindow,
    created: u64,
    last_used: u64,
    seq: u64,
    /// Has authenticated at least one request.
    confirmed: bool,
}

/// The axon's sessions: bounded (`capacity` total, `per_caller` per key), expiring (idle TTL,
/// maximum age), each bound to the caller key that signed its handshake. `C` is the kind of
/// key: Ed25519 neuron keys (gRPC) or sr25519 hotkeys (HTTP).
pub struct SessionTable<C: SessionCaller = PublicKey> {
    config: SessionConfig,
    sessions: HashMap<SessionId, Session<C>>,
    /// Least recently used first.
    lru: BTreeMap<u64, SessionId>,
    /// Sessions that have not yet authenticated a request, oldest first (by `seq`).
    unconfirmed: BTreeMap<u64, SessionId>,
    /// Each caller's sessions, oldest first (at most `per_caller`).
    by_caller: HashMap<[u8; 32], VecDeque<SessionId>>,
    /// Sessions per source address (at most `per_source`).
    by_source: HashMap<IpAddr, usize>,
    next_seq: u64,
}

impl<C: SessionCaller> SessionTable<C> {
    /// Capacities of 0 are raised to 1.
    pub fn new(mut config: SessionConfig) -> Self {
        config.capacity = config.capacity.max(1);
        config.per_caller = config.per_caller.max(1);
        config.per_source = config.per_source.max(1);
        Self {
            sessions: HashMap::with_capacity(config.capacity.min(1024)),
            config,
            lru: BTreeMap::new(),
            unconfirmed: BTreeMap::new(),
            by_caller: HashMap::new(),
            by_source: HashMap::new(),
            next_seq: 0,
        }
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Store a session established by a verified, authorised handshake from `caller`
    /// (`caller_hex`: its `neuron_key` as sent) over a connection from `source`. Drops idle
    /// sessions, then the caller's own oldest beyond `per_caller`; refuses the session
    /// ([`CryptoError::SessionTableFull`]) when its source has `per_source` open, or when the
    /// table is full and its least recently used session was used within
    /// `protect_recent_ns` (else that one is dropped).
    pub fn insert(
        &mut self,
        session_id: SessionId,
        caller: C,
        caller_hex: &str,
        key: SessionKey,
        now: u64,
        source: Option<IpAddr>,
    ) -> Result<(), CryptoError> {
        self.expire_idle(now);
        self.remove(&session_id);
        let id = caller.key_bytes();
        while self
            .by_caller
            .get(&id)
            .is_some_and(|q| q.len() >= self.config.per_caller)
        {
            let Some(oldest) = self.by_caller.get(&id).and_then(|q| q.front().copied()) else {
                break;
            };
            self.remove(&oldest);
        }
        if let Some(src) = source
            && self.by_source.get(&src).copied().unwrap_or(0) >= self.config.per_source
        {
            return Err(CryptoError::SessionTableFull {
                scope: "sessions from one address",
                cap: self.config.per_source,
            });
        }
        while self.sessions.len() >= self.config.capacity {
            if self.config.evict_unconfirmed_first
                && let Some((_, pending)) =
                    self.unconfirmed.first_key_value().map(|(k, v)| (*k, *v))
            {
                self.remove(&pending);
                continue;
            }
            let Some((_, oldest)) = self.lru.first_key_value().map(|(k, v)| (*k, *v)) else {
                break;
            };
            let recent = self
                .sessions
                .get(&oldest)
                .is_some_and(|s| now.saturating_sub(s.last_used) < self.config.protect_recent_ns);
            if recent {
                return Err(CryptoError::SessionTableFull {
                    scope: "sessions, all in recent use",
                    cap: self.config.capacity,
                });
            }
            self.remove(&oldest);
        }
        if let Some(src) = source {
            *self.by_source.entry(src).or_default() += 1;
        }
        let seq = self.bump();
        self.lru.insert(seq, session_id);
        self.unconfirmed.insert(seq, session_id);
        self.by_caller.entry(id).or_default().push_back(session_id);
        self.sessions.insert(
            session_id,
            Session {
                caller,
                caller_hex: caller_hex.to_owned(),
                mac: SessionMac::new(&key, &session_id),
                window: ReplayWindow::default(),
                created: now,
                last_used: now,
                seq,
                source,
                confirmed: false,
            },
        );
        Ok(())
    }

    /// Authenticate one request: the session exists and is live, `caller_hex` is the key that
    /// opened it, the MAC over `request_digest` and the counter verifies, and the counter is
    /// new (in that order: a forged request never moves the window). Returns the caller.
    pub fn authenticate(
        &mut self,
        proof: &SessionProof,
        caller_hex: &str,
        request_digest: &[u8; 32],
        now: u64,
    ) -> Result<C, CryptoError> {
        self.authenticate_from(proof, caller_hex, request_digest, now, None)
            .map(|a| a.caller)
    }

    /// [`authenticate`](Self::authenticate), and with `source` given, the request must come
    /// from the address that opened the session (a session opened without one is refused):
    /// elsewhere it is unknown. Returns the session's MAC too, to authenticate the answer.
    pub fn authenticate_from(
        &mut self,
        proof: &SessionProof,
        caller_hex: &str,
        request_digest: &[u8; 32],
        now: u64,
        source: Option<IpAddr>,
    ) -> Result<Authenticated<C>, CryptoError> {
        // One lookup for every check and update (this runs on every request).
        let Some(s) = self.sessions.get_mut(&proof.session_id) else {
            return Err(unknown(&proof.session_id));
        };
        if source.is_some() && s.source != source {
            return Err(unknown(&proof.session_id));
        }
        if let Err(e) = liveness(&self.config, s, &proof.session_id, caller_hex, now) {
            if matches!(e, CryptoError::UnknownSession { .. }) {
                self.remove(&proof.session_id);
            }
            return Err(e);
        }
        s.mac.verify(proof, request_digest)?;
        s.window
            .check_and_record(proof.counter)
            .map_err(|why| CryptoError::ReplayedCounter {
                session: hex::encode(proof.session_id),
                counter: proof.counter,
                highest: s.window.highest(),
                too_old: why == CounterRefusal::TooOld,
            })?;
        s.last_used = now;
        if !s.confirmed {
            s.confirmed = true;
            self.unconfirmed.remove(&s.seq);
        }
        // Already the most recently used (the common case of one busy session): the LRU order
        // does not change.
        if s.seq + 1 != self.next_seq {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.lru.remove(&s.seq);
            s.seq = seq;
            self.lru.insert(seq, proof.session_id);
        }
        Ok(Authenticated {
            caller: s.caller,
            mac: s.mac.clone(),
        })
    }

    /// The checks of [`authenticate`](Self::authenticate) that need no request digest: the
    /// session exists, is live and belongs to `caller_hex`. Lets the owner refuse a request for
    /// an unknown session before hashing its payload (which may be tens of MiB).
    pub fn precheck(
        &mut self,
        session_id: &SessionId,
        caller_hex: &str,
        now: u64,
    ) -> Result<(), CryptoError> {
        let Some(s) = self.sessions.get(session_id) else {
            return Err(unknown(session_id));
        };
        let verdict = liveness(&self.config, s, session_id, caller_hex, now);
        if let Err(CryptoError::UnknownSession { .. }) = verdict {
            self.remove(session_id);
        }
        verdict
    }

    /// Drops every session idle longer than the TTL; returns how many.
    pub fn expire_idle(&mut self, now: u64) -> usize {
        let mut n = 0;
        while let Some((_, sid)) = self.lru.first_key_value().map(|(k, v)| (*k, *v)) {
            let idle = self
                .sessions
                .get(&sid)
                .is_none_or(|s| now.saturating_sub(s.last_used) > self.config.idle_ttl_ns);
            if !idle {
                break;
            }
            self.remove(&sid);
            n += 1;
        }
        n
    }

    fn remove(&mut self, sid: &SessionId) {
        let Some(s) = self.sessions.remove(sid) else {
            return;
        };
        self.lru.remove(&s.seq);
        self.unconfirmed.remove(&s.seq);
        if let Some(src) = s.source
            && let Some(n) = self.by_source.get_mut(&src)
        {
            *n -= 1;
            if *n == 0 {
                self.by_source.remove(&src);
            }
        }
        let id = s.caller.key_bytes();
        if let Some(q) = self.by_caller.get_mut(&id) {
            q.retain(|x| x != sid);
            if q.is_empty() {
                self.by_caller.remove(&id);
            }
        }
    }

    fn bump(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    /// Sessions of `caller` (for tests and metrics).
    pub fn sessions_of(&self, caller: &C) -> usize {
        self.by_caller
            .get(&caller.key_bytes())
            .map_or(0, VecDeque::len)
    }
}

fn unknown(session_id: &SessionId) -> CryptoError {
    CryptoError::UnknownSession {
        session: hex::encode(session_id),
    }
}

/// The session is within its idle TTL and maximum age (else `UnknownSession`: the owner drops
/// it) and was opened by `caller_hex`.
fn liveness<C>(
    config: &SessionConfig,
    s: &Session<C>,
    session_id: &SessionId,
    caller_hex: &str,
    now: u64,
) -> Result<(), CryptoError> {
    let idle = now.saturating_sub(s.last_used) > config.idle_ttl_ns;
    let old = now.saturating_sub(s.created) > config.max_age_ns;
    if idle || old {
        return Err(unknown(session_id));
    }
    if s.caller_hex != caller_hex {
        return Err(CryptoError::SessionCaller {
            session: hex::encode(session_id),
            got: clip(caller_hex),
        });
    }
    Ok(())
}

impl<C: SessionCaller> fmt::Debug for SessionTable<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionTable")
            .field("config", &self.config)
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NeuronKey;
    use crate::session::{
        SessionAccept, SessionInitiator, SessionVersion, accept_offer, session_mac, verify_offer,
    };

    fn handshake(caller: &NeuronKey, synapse: &str) -> (SessionAccept, SessionKey, SessionKey) {
        let init = SessionInitiator::generate();
        let digest = [5u8; 32];
        let offer = init.offer(caller, &digest);
        verify_offer(&caller.public(), &digest, &offer).unwrap();
        let (accept, axon_key) = accept_offer(
            &offer,
            SessionVersion::LATEST,
            &caller.public_hex(),
            synapse,
        )
        .unwrap();
        let caller_key = init
            .complete(&accept, &caller.public_hex(), synapse)
            .unwrap();
        (accept, caller_key, axon_key)
    }

    #[test]
    fn both_ends_derive_the_same_key_and_the_table_authenticates_once() {
        let caller = NeuronKey::from_seed([1; 32]);
        let synapse = NeuronKey::from_seed([2; 32]).public_hex();
        let (accept, ck, ak) = handshake(&caller, &synapse);
        assert_eq!(ck.as_bytes(), ak.as_bytes());
        let mut table = SessionTable::new(SessionConfig::default());
        table
            .insert(
                accept.session_id,
                caller.public(),
                &caller.public_hex(),
                ak,
                0,
                None,
            )
            .unwrap();
        let digest = [8u8; 32];
        let proof = |counter| SessionProof {
            version: SessionVersion::LATEST,
            session_id: accept.session_id,
            counter,
            mac: session_mac(&ck, &accept.session_id, counter, &digest),
        };
        let me = caller.public_hex();
        assert_eq!(
            table.authenticate(&proof(2), &me, &digest, 1).unwrap(),
            caller.public()
        );
        table.authenticate(&proof(1), &me, &digest, 1).unwrap();
        assert!(matches!(
            table.authenticate(&proof(2), &me, &digest, 1),
            Err(CryptoError::ReplayedCounter { .. })
        ));
        // A MAC over another digest, or presented by another key, is refused.
        assert!(matches!(
            table.authenticate(&proof(3), &me, &[9u8; 32], 1),
            Err(CryptoError::BadSessionMac { .. })
        ));
        let other = NeuronKey::from_seed([3; 32]).public_hex();
        assert!(matches!(
            table.authenticate(&proof(3), &other, &digest, 1),
            Err(CryptoError::SessionCaller { .. })
        ));
        // The failures above did not burn counter 3.
        table.authenticate(&proof(3), &me, &digest, 1).unwrap();
        // Idle beyond the TTL: gone.
        let later = 2 + table.config().idle_ttl_ns;
        assert!(matches!(
            table.authenticate(&proof(4), &me, &digest, later),
            Err(CryptoError::UnknownSession { .. })
        ));
        assert!(table.is_empty());
    }

    #[test]
    fn table_is_bounded_in_total_and_per_caller() {
        let mut table = SessionTable::new(SessionConfig {
            capacity: 4,
            per_caller: 2,
            protect_recent_ns: 0,
            ..SessionConfig::default()
        });
        let a = NeuronKey::from_seed([1; 32]);
        for i in 0..5u8 {
            table
                .insert(
                    [i; 16],
                    a.public(),
                    &a.public_hex(),
                    SessionKey::from_bytes([i; 32], SessionVersion::V2),
                    0,
                    None,
                )
                .unwrap();
            assert!(table.sessions_of(&a.public()) <= 2);
        }
        assert_eq!(table.len(), 2);
        for s in 10..20u8 {
            let k = NeuronKey::from_seed([s; 32]);
            table
                .insert(
                    [s; 16],
                    k.public(),
                    &k.public_hex(),
                    SessionKey::from_bytes([s; 32], SessionVersion::V2),
                    0,
                    None,
                )
                .unwrap();
            assert!(table.len() <= 4);
        }
        assert_eq!(table.len(), 4);
        assert_eq!(table.lru.len(), 4);
        assert_eq!(
            table.by_caller.values().map(VecDeque::len).sum::<usize>(),
            4
        );
    }

    #[test]
    fn the_least_recently_used_session_is_evicted() {
        let mut table = SessionTable::new(SessionConfig {
            capacity: 2,
            protect_recent_ns: 0,
            ..SessionConfig::default()
        });
        let keys: Vec<NeuronKey> = (1..=3u8).map(|i| NeuronKey::from_seed([i; 32])).collect();
        let digest = [8u8; 32];
        let use_session = |table: &mut SessionTable, i: usize, counter: u64| {
            let (sid, k) = (
                [i as u8; 16],
                SessionKey::from_bytes([i as u8; 32], SessionVersion::V2),
            );
            let proof = SessionProof {
                version: SessionVersion::V2,
                session_id: sid,
                counter,
                mac: session_mac(&k, &sid, counter, &digest),
            };
            table.authenticate(&proof, &keys[i].public_hex(), &digest, 1)
        };
        for (i, k) in keys.iter().enumerate().take(2) {
            let n = i as u8;
            table
                .insert(
                    [n; 16],
                    k.public(),
                    &k.public_hex(),
                    SessionKey::from_bytes([n; 32], SessionVersion::V2),
                    0,
                    None,
                )
                .unwrap();
        }
        // Session 0 used last (twice: the second use finds it already most recent).
        use_session(&mut table, 1, 1).unwrap();
        use_session(&mut table, 0, 1).unwrap();
        use_session(&mut table, 0, 2).unwrap();
        let k = &keys[2];
        table
            .insert(
                [2; 16],
                k.public(),
                &k.public_hex(),
                SessionKey::from_bytes([2; 32], SessionVersion::V2),
                1,
                None,
            )
            .unwrap();
        assert!(use_session(&mut table, 0, 3).is_ok());
        assert!(matches!(
            use_session(&mut table, 1, 2),
            Err(CryptoError::UnknownSession { .. })
        ));
        assert!(use_session(&mut table, 2, 1).is_ok());
        assert_eq!(table.lru.len(), 2);
    }

    #[test]
    fn a_handshake_flood_cannot_push_out_sessions_in_use() {
        let mut table = SessionTable::new(SessionConfig {
            capacity: 2,
            per_source: 8,
            ..SessionConfig::default()
        });
        let open = |table: &mut SessionTable, n: u8, now: u64, source: [u8; 4]| {
            let k = NeuronKey::from_seed([n; 32]);
            table.insert(
                [n; 16],
                k.public(),
                &k.public_hex(),
                SessionKey::from_bytes([n; 32], SessionVersion::V2),
                now,
                Some(IpAddr::from(source)),
            )
        };
        open(&mut table, 1, 0, [127, 0, 0, 1]).unwrap();
        open(&mut table, 2, 0, [127, 0, 0, 1]).unwrap();
        // Full of sessions used within protect_recent_ns: newcomers are refused, nothing evicted.
        for n in 10..20 {
            assert!(matches!(
                open(&mut table, n, 1, [127, 0, 0, 2]),
                Err(CryptoError::SessionTableFull { .. })
            ));
        }
        assert_eq!(table.len(), 2);
        // Once the oldest has been unused for protect_recent_ns, it makes room.
        let later = table.config().protect_recent_ns;
        open(&mut table, 30, later, [127, 0, 0, 2]).unwrap();
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn one_address_cannot_fill_the_table() {
        let mut table = SessionTable::new(SessionConfig {
            per_source: 2,
            ..SessionConfig::default()
        });
        for n in 1..=3u8 {
            let k = NeuronKey::from_seed([n; 32]);
            let r = table.insert(
                [n; 16],
                k.public(),
                &k.public_hex(),
                SessionKey::from_bytes([n; 32], SessionVersion::V2),
                0,
                Some(IpAddr::from([127, 0, 0, 2])),
            );
            assert_eq!(r.is_ok(), n <= 2, "session {n}: {r:?}");
        }
        assert_eq!(table.len(), 2);
    }
    #[test]
    fn a_full_table_drops_unused_sessions_first_when_asked() {
        let mut table = SessionTable::new(SessionConfig {
            capacity: 2,
            evict_unconfirmed_first: true,
            ..SessionConfig::default()
        });
        let digest = [8u8; 32];
        let open = |table: &mut SessionTable<AccountId>, n: u8| {
            table.insert(
                [n; 16],
                AccountId([n; 32]),
                &n.to_string(),
                SessionKey::from_bytes([n; 32], SessionVersion::V2),
                0,
                Some(IpAddr::from([127, 0, 0, n])),
            )
        };
        let proof = |n: u8, counter| SessionProof {
            version: SessionVersion::V2,
            session_id: [n; 16],
            counter,
            mac: session_mac(
                &SessionKey::from_bytes([n; 32], SessionVersion::V2),
                &[n; 16],
                counter,
                &digest,
            ),
        };
        open(&mut table, 1).unwrap();
        let used = table
            .authenticate_from(
                &proof(1, 1),
                "1",
                &digest,
                0,
                Some(IpAddr::from([127, 0, 0, 1])),
            )
            .unwrap();
        assert_eq!(used.caller, AccountId([1; 32]));
        // Newcomers displace each other, never the session in use, however recent.
        for n in 2..10 {
            open(&mut table, n).unwrap();
            assert_eq!(table.len(), 2);
        }
        table.authenticate(&proof(1, 2), "1", &digest, 0).unwrap();
        table.authenticate(&proof(9, 1), "9", &digest, 0).unwrap();
        assert!(matches!(
            table.authenticate(&proof(8, 1), "8", &digest, 0),
            Err(CryptoError::UnknownSession { .. })
        ));
        // Both in use now: a newcomer is refused, as without the option.
        assert!(matches!(
            open(&mut table, 20),
            Err(CryptoError::SessionTableFull { .. })
        ));
        // From another address the session is unknown (and stays usable from its own).
        assert!(matches!(
            table.authenticate_from(
                &proof(1, 3),
                "1",
                &digest,
                0,
                Some(IpAddr::from([10, 0, 0, 1]))
            ),
            Err(CryptoError::UnknownSession { .. })
        ));
        table
            .authenticate_from(
                &proof(1, 3),
                "1",
                &digest,
                0,
                Some(IpAddr::from([127, 0, 0, 1])),
            )
            .unwrap();
    }
}
