//! A hostile network in user space (this machine's kernel has no `netem`): a UDP relay between
//! a client peer and the hub that delays, jitters, loses and rate-limits the packets of each
//! direction, and can black out.
//!
//! The client's ICE path is forced through the relay by rewriting the candidates of both SDPs
//! ([`negotiate_through`]): the hub is told the client is at the relay's hub-facing socket, and
//! the client that the hub is at the relay's client-facing socket. Neither side ever learns the
//! other's real address, so no direct candidate pair can form.
//!
//! The decisions are pure and unit tested below without sleeping: [`Shaper`] (deliver at time T
//! or drop) and [`Link`] (both directions, the blackout switch, and counters that recognise RTP
//! retransmissions and RTCP feedback from the unencrypted SRTP/SRTCP headers). [`Relay`] is the
//! thin tokio driver around them.

use crate::common::Ws;
use crate::common::peer::TestPeer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// The impairment of one direction.
#[derive(Clone, Copy, Debug)]
pub struct Conditions {
    /// One-way delay every packet gets.
    pub delay: Duration,
    /// Extra delay, uniform in `0..=jitter` per packet (so packets may arrive reordered).
    pub jitter: Duration,
    /// Probability that a packet is lost on the way.
    pub loss: f64,
    /// Bottleneck rate in bits per second; 0 for none.
    pub rate_bps: u64,
    /// Bytes the bottleneck's queue holds; a packet that does not fit is dropped (tail drop).
    pub queue_bytes: usize,
}

impl Conditions {
    /// A bad mobile or satellite link: 150 ms each way (300 ms RTT) with up to 10 ms of jitter,
    /// 3% loss, and a 500 kbit/s bottleneck with half a second of queue.
    pub fn hostile() -> Conditions {
        Conditions {
            delay: Duration::from_millis(150),
            jitter: Duration::from_millis(10),
            loss: 0.03,
            rate_bps: 500_000,
            queue_bytes: 500_000 / 8 / 2,
        }
    }

    /// Only a fixed one-way `delay`: no jitter, loss or bottleneck.
    pub fn delay_only(delay: Duration) -> Conditions {
        Conditions {
            delay,
            jitter: Duration::ZERO,
            loss: 0.0,
            rate_bps: 0,
            queue_bytes: 0,
        }
    }
}

/// Why a packet did not get through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    Loss,
    Queue,
    Blackout,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Deliver(Instant),
    Drop(Dropped),
}

/// One direction's shaping: random loss, then a bottleneck that serialises packets at its rate
/// behind a bounded FIFO, then the delay line.
pub struct Shaper {
    conditions: Conditions,
    rng: StdRng,
    /// When the bottleneck finishes sending everything queued so far.
    busy_until: Option<Instant>,
}

impl Shaper {
    /// `seed` makes the losses and jitter of a run reproducible.
    pub fn new(conditions: Conditions, seed: u64) -> Shaper {
        Shaper {
            conditions,
            rng: StdRng::seed_from_u64(seed),
            busy_until: None,
        }
    }

    /// What happens to a packet of `len` bytes arriving at `now`.
    pub fn handle(&mut self, now: Instant, len: usize) -> Verdict {
        let c = self.conditions;
        // Drawn for every packet, so a run's losses do not depend on the queue's state.
        let lost = self.rng.r#gen::<f64>() < c.loss;
        let jitter = if c.jitter.is_zero() {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.rng.gen_range(0..=c.jitter.as_nanos() as u64))
        };
        if lost {
            return Verdict::Drop(Dropped::Loss);
        }
        let sent = if c.rate_bps == 0 {
            now
        } else {
            let start = self.busy_until.map_or(now, |t| t.max(now));
            let queued = (start - now).as_secs_f64() * c.rate_bps as f64 / 8.0;
            if queued + len as f64 > c.queue_bytes as f64 {
                return Verdict::Drop(Dropped::Queue);
            }
            let done = start + Duration::from_secs_f64(len as f64 * 8.0 / c.rate_bps as f64);
            self.busy_until = Some(done);
            done
        };
        Verdict::Deliver(sent + c.delay + jitter)
    }
}

/// What a datagram is, by RFC 7983 demultiplexing and the headers SRTP and SRTCP leave in
/// the clear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Datagram {
    Stun,
    Dtls,
    Rtp {
        ssrc: u32,
        seq: u16,
    },
    /// The first packet of a (compound) RTCP datagram: the rest is encrypted.
    Rtcp {
        packet_type: u8,
        format: u8,
    },
    Other,
}

pub fn classify(b: &[u8]) -> Datagram {
    match b.first() {
        Some(0..=3) => Datagram::Stun,
        Some(20..=63) => Datagram::Dtls,
        Some(128..=191) if b.len() >= 8 && (192..=223).contains(&b[1]) => Datagram::Rtcp {
            packet_type: b[1],
            format: b[0] & 0x1f,
        },
        Some(128..=191) if b.len() >= 12 => Datagram::Rtp {
            seq: u16::from_be_bytes([b[2], b[3]]),
            ssrc: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        },
        _ => Datagram::Other,
    }
}

/// RTCP transport-layer feedback (RFC 4585) with FMT 1: a generic NACK.
const RTPFB: u8 = 205;
/// RTCP payload-specific feedback (RFC 4585) with FMT 1: a picture loss indication.
const PSFB: u8 = 206;

/// What one direction saw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counters {
    /// Datagrams and bytes that reached the relay.
    pub packets: u64,
    pub bytes: u64,
    /// Datagrams and bytes delivered to the other side.
    pub delivered: u64,
    pub delivered_bytes: u64,
    pub lost: u64,
    pub queue_drops: u64,
    pub blackout_drops: u64,
    /// RTP packets that reached the relay, and those delivered.
    pub rtp: u64,
    pub rtp_delivered: u64,
    /// RTP packets whose SSRC and sequence number came before: NACK retransmissions.
    pub retransmissions: u64,
    /// Distinct RTP packets dropped at least once, and how many of them a retransmission
    /// delivered later.
    pub rtp_dropped: u64,
    pub repaired: u64,
    /// The same two, by SSRC: `(dropped, repaired)`.
    pub by_ssrc: BTreeMap<u32, (u64, u64)>,
    /// RTCP datagrams opening with a generic NACK, and with a PLI. Only the first packet of a
    /// compound datagram is in the clear: webrtc-rs sends NACKs alone, but a PLI may ride behind
    /// a report and go uncounted.
    pub nacks: u64,
    pub plis: u64,
    /// When the last RTP packet was delivered.
    pub last_rtp_delivered: Option<Instant>,
}

impl Counters {
    /// Share of the datagrams that reached the relay and did not get through.
    pub fn drop_ratio(&self) -> f64 {
        let dropped = self.lost + self.queue_drops + self.blackout_drops;
        if self.packets == 0 {
            0.0
        } else {
            dropped as f64 / self.packets as f64
        }
    }

    /// The counts since `earlier`.
    pub fn since(&self, earlier: &Counters) -> Counters {
        Counters {
            packets: self.packets - earlier.packets,
            bytes: self.bytes - earlier.bytes,
            delivered: self.delivered - earlier.delivered,
            delivered_bytes: self.delivered_bytes - earlier.delivered_bytes,
            lost: self.lost - earlier.lost,
            queue_drops: self.queue_drops - earlier.queue_drops,
            blackout_drops: self.blackout_drops - earlier.blackout_drops,
            rtp: self.rtp - earlier.rtp,
            rtp_delivered: self.rtp_delivered - earlier.rtp_delivered,
            retransmissions: self.retransmissions - earlier.retransmissions,
            rtp_dropped: self.rtp_dropped - earlier.rtp_dropped,
            repaired: self.repaired - earlier.repaired,
            by_ssrc: self
                .by_ssrc
                .iter()
                .map(|(ssrc, (d, r))| {
                    let (d0, r0) = earlier.by_ssrc.get(ssrc).copied().unwrap_or_default();
                    (*ssrc, (d - d0, r - r0))
                })
                .collect(),
            nacks: self.nacks - earlier.nacks,
            plis: self.plis - earlier.plis,
            last_rtp_delivered: self.last_rtp_delivered,
        }
    }
}

/// Client to hub, or hub to client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::Up => 0,
            Direction::Down => 1,
        }
    }
}

/// What became of one RTP packet (by SSRC and sequence number) so far.
#[derive(Clone, Copy, Default)]
struct Fate {
    dropped: bool,
    delivered: bool,
}

/// Both directions of the impaired path.
pub struct Link {
    shapers: [Shaper; 2],
    counters: [Counters; 2],
    fates: [HashMap<(u32, u16), Fate>; 2],
    /// While set and in the future, nothing gets through, including packets already on the way.
    dark_until: Option<Instant>,
}

impl Link {
    pub fn new(up: Conditions, down: Conditions, seed: u64) -> Link {
        Link {
            shapers: [
                Shaper::new(up, seed),
                Shaper::new(down, seed.wrapping_add(1)),
            ],
            counters: [Counters::default(), Counters::default()],
            fates: [HashMap::new(), HashMap::new()],
            dark_until: None,
        }
    }

    pub fn black_out(&mut self, now: Instant, length: Duration) {
        self.dark_until = Some(now + length);
    }

    pub fn is_dark(&self, now: Instant) -> bool {
        self.dark_until.is_some_and(|until| now < until)
    }

    pub fn counters(&self, direction: Direction) -> &Counters {
        &self.counters[direction.index()]
    }

    /// A datagram reached the relay at `now`: when to deliver it, if at all.
    pub fn arrive(&mut self, direction: Direction, now: Instant, data: &[u8]) -> Option<Instant> {
        let i = direction.index();
        let c = &mut self.counters[i];
        c.packets += 1;
        c.bytes += data.len() as u64;
        match classify(data) {
            Datagram::Rtp { ssrc, seq } => {
                c.rtp += 1;
                let fates = &mut self.fates[i];
                // Bounded: a long run forgets, rather than mistake a wrapped sequence number for
                // a retransmission.
                if fates.len() > 30_000 {
                    fates.clear();
                }
                match fates.entry((ssrc, seq)) {
                    Entry::Occupied(_) => c.retransmissions += 1,
                    Entry::Vacant(v) => {
                        v.insert(Fate::default());
                    }
                }
            }
            Datagram::Rtcp {
                packet_type,
                format: 1,
            } => {
                c.nacks += u64::from(packet_type == RTPFB);
                c.plis += u64::from(packet_type == PSFB);
            }
            _ => {}
        }
        let verdict = if self.is_dark(now) {
            Verdict::Drop(Dropped::Blackout)
        } else {
            self.shapers[i].handle(now, data.len())
        };
        match verdict {
            Verdict::Deliver(at) => Some(at),
            Verdict::Drop(why) => {
                self.dropped(direction, why, data);
                None
            }
        }
    }

    /// A datagram's delivery time came at `now`: whether it goes out.
    pub fn depart(&mut self, direction: Direction, now: Instant, data: &[u8]) -> bool {
        if self.is_dark(now) {
            self.dropped(direction, Dropped::Blackout, data);
            return false;
        }
        let i = direction.index();
        let c = &mut self.counters[i];
        c.delivered += 1;
        c.delivered_bytes += data.len() as u64;
        if let Datagram::Rtp { ssrc, seq } = classify(data) {
            c.rtp_delivered += 1;
            c.last_rtp_delivered = Some(now);
            if let Some(fate) = self.fates[i].get_mut(&(ssrc, seq)) {
                if fate.dropped && !fate.delivered {
                    c.repaired += 1;
                    c.by_ssrc.entry(ssrc).or_default().1 += 1;
                }
                fate.delivered = true;
            }
        }
        true
    }

    fn dropped(&mut self, direction: Direction, why: Dropped, data: &[u8]) {
        let i = direction.index();
        let c = &mut self.counters[i];
        match why {
            Dropped::Loss => c.lost += 1,
            Dropped::Queue => c.queue_drops += 1,
            Dropped::Blackout => c.blackout_drops += 1,
        }
        if let Datagram::Rtp { ssrc, seq } = classify(data)
            && let Some(fate) = self.fates[i].get_mut(&(ssrc, seq))
            && !fate.dropped
            && !fate.delivered
        {
            fate.dropped = true;
            c.rtp_dropped += 1;
            c.by_ssrc.entry(ssrc).or_default().0 += 1;
        }
    }
}

/// The relay's two sockets, bound before the addresses to forward between are known.
pub struct RelaySockets {
    client_side: UdpSocket,
    hub_side: UdpSocket,
}

impl RelaySockets {
    pub async fn bind() -> RelaySockets {
        RelaySockets {
            client_side: UdpSocket::bind("127.0.0.1:0").await.expect("bind"),
            hub_side: UdpSocket::bind("127.0.0.1:0").await.expect("bind"),
        }
    }

    /// Where the client sends (the hub's address as the client knows it).
    pub fn client_facing(&self) -> SocketAddr {
        self.client_side.local_addr().expect("bound")
    }

    /// Where the hub sends (the client's address as the hub knows it).
    pub fn hub_facing(&self) -> SocketAddr {
        self.hub_side.local_addr().expect("bound")
    }

    /// Forward between the client at `client` and the hub at `hub` through `link`.
    pub fn start(self, client: SocketAddr, hub: SocketAddr, link: Link) -> Relay {
        let link = Arc::new(Mutex::new(link));
        let task = tokio::spawn(forward(self, client, hub, Arc::clone(&link)));
        Relay { link, task }
    }
}

/// A running relay; it stops when dropped.
pub struct Relay {
    link: Arc<Mutex<Link>>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Drop everything, both ways, for `length` from now.
    pub fn black_out(&self, length: Duration) {
        self.link
            .lock()
            .expect("relay lock")
            .black_out(Instant::now(), length);
    }

    pub fn counters(&self, direction: Direction) -> Counters {
        self.link
            .lock()
            .expect("relay lock")
            .counters(direction)
            .clone()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A datagram on its way, ordered by delivery time, then arrival.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: Instant,
    n: u64,
    direction: Direction,
    data: Vec<u8>,
}

async fn forward(
    sockets: RelaySockets,
    client: SocketAddr,
    hub: SocketAddr,
    link: Arc<Mutex<Link>>,
) {
    let RelaySockets {
        client_side,
        hub_side,
    } = sockets;
    let mut on_the_way = BinaryHeap::new();
    let mut n = 0u64;
    let (mut up, mut down) = (vec![0u8; 2048], vec![0u8; 2048]);
    loop {
        let next = on_the_way.peek().map(|Reverse(p): &Reverse<InFlight>| p.at);
        let (direction, data) = tokio::select! {
            r = client_side.recv_from(&mut up) => match r {
                Ok((len, from)) if from == client => (Direction::Up, up[..len].to_vec()),
                _ => continue,
            },
            r = hub_side.recv_from(&mut down) => match r {
                Ok((len, from)) if from == hub => (Direction::Down, down[..len].to_vec()),
                _ => continue,
            },
            () = tokio::time::sleep_until(next.map_or_else(
                tokio::time::Instant::now,
                tokio::time::Instant::from_std,
            )), if next.is_some() => {
                let now = Instant::now();
                while on_the_way.peek().is_some_and(|Reverse(p): &Reverse<InFlight>| p.at <= now) {
                    let Some(Reverse(p)) = on_the_way.pop() else { break };
                    let go = link.lock().expect("relay lock").depart(p.direction, now, &p.data);
                    if go {
                        let _ = match p.direction {
                            Direction::Up => hub_side.send_to(&p.data, hub).await,
                            Direction::Down => client_side.send_to(&p.data, client).await,
                        };
                    }
                }
                continue;
            }
        };
        let at = link
            .lock()
            .expect("relay lock")
            .arrive(direction, Instant::now(), &data);
        if let Some(at) = at {
            n += 1;
            on_the_way.push(Reverse(InFlight {
                at,
                n,
                direction,
                data,
            }));
        }
    }
}

/// The distinct UDP candidate addresses of an SDP.
fn candidates(sdp: &str) -> Vec<SocketAddr> {
    let mut found = Vec::new();
    for line in sdp.lines() {
        let Some(rest) = line.strip_prefix("a=candidate:") else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() > 5 && f[2].eq_ignore_ascii_case("udp") {
            let addr: SocketAddr = format!("{}:{}", f[4], f[5]).parse().expect("candidate");
            if !found.contains(&addr) {
                found.push(addr);
            }
        }
    }
    found
}

/// `sdp` with every candidate's address and port replaced by `to`.
fn rewrite_candidates(sdp: &str, to: SocketAddr) -> String {
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        match line.strip_prefix("a=candidate:") {
            Some(rest) => {
                let ending = &rest[rest.trim_end().len()..];
                let mut f: Vec<String> = rest.split_whitespace().map(str::to_owned).collect();
                if f.len() > 5 {
                    f[4] = to.ip().to_string();
                    f[5] = to.port().to_string();
                }
                out.push_str("a=candidate:");
                out.push_str(&f.join(" "));
                out.push_str(ending);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Negotiate `peer` with the hub over `ws`, its media forced through a relay that impairs the
/// way up (client to hub) with `up` and the way down with `down`. The offer and the answer
/// each carry one host candidate (test peers and hubs bind one loopback address).
pub async fn negotiate_through(
    ws: &mut Ws,
    peer: &mut TestPeer,
    up: Conditions,
    down: Conditions,
    seed: u64,
) -> Relay {
    let offer = peer.offer().await;
    let client = candidates(&offer);
    assert_eq!(client.len(), 1, "one client candidate: {offer}");
    let sockets = RelaySockets::bind().await;
    let offer = rewrite_candidates(&offer, sockets.hub_facing());
    ws.send(serde_json::json!({"type": "offer", "sdp": offer}))
        .await;
    let answer = ws.expect("answer").await;
    let answer = answer["sdp"].as_str().expect("sdp");
    let hub = candidates(answer);
    assert_eq!(hub.len(), 1, "one hub candidate: {answer}");
    let answer = rewrite_candidates(answer, sockets.client_facing());
    let relay = sockets.start(client[0], hub[0], Link::new(up, down, seed));
    peer.accept(answer).await;
    relay
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn a_clear_path_only_delays() {
        let t0 = Instant::now();
        let mut s = Shaper::new(Conditions::delay_only(Duration::from_millis(150)), 1);
        for i in 0..100 {
            assert_eq!(s.handle(at(t0, i), 1200), Verdict::Deliver(at(t0, i + 150)));
        }
    }

    #[test]
    fn loss_is_about_the_configured_share_and_reproducible() {
        let c = Conditions {
            loss: 0.03,
            ..Conditions::delay_only(Duration::ZERO)
        };
        let t0 = Instant::now();
        let run = |seed| {
            let mut s = Shaper::new(c, seed);
            (0..20_000)
                .map(|i| s.handle(at(t0, i), 100))
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7), "same seed, same losses");
        assert_ne!(a, run(8));
        let lost = a
            .iter()
            .filter(|v| **v == Verdict::Drop(Dropped::Loss))
            .count();
        assert!((450..750).contains(&lost), "{lost} of 20000 lost");
    }

    #[test]
    fn the_bottleneck_serialises_at_its_rate_and_drops_what_the_queue_cannot_hold() {
        // 100 kbit/s: a 1250-byte packet takes 100 ms; the queue holds two of them.
        let c = Conditions {
            rate_bps: 100_000,
            queue_bytes: 2500,
            ..Conditions::delay_only(Duration::from_millis(50))
        };
        let t0 = Instant::now();
        let mut s = Shaper::new(c, 1);
        // A burst of four at once: two fit, the others are tail-dropped.
        assert_eq!(s.handle(t0, 1250), Verdict::Deliver(at(t0, 150)));
        assert_eq!(s.handle(t0, 1250), Verdict::Deliver(at(t0, 250)));
        assert_eq!(s.handle(t0, 1250), Verdict::Drop(Dropped::Queue));
        assert_eq!(s.handle(t0, 1250), Verdict::Drop(Dropped::Queue));
        // Once the first has left, there is room for one more, behind the second.
        assert_eq!(s.handle(at(t0, 100), 1250), Verdict::Deliver(at(t0, 350)));
        // An idle link sends at once again.
        assert_eq!(s.handle(at(t0, 1000), 1250), Verdict::Deliver(at(t0, 1150)));
    }

    #[test]
    fn jitter_stays_within_its_bound() {
        let c = Conditions {
            jitter: Duration::from_millis(10),
            ..Conditions::delay_only(Duration::from_millis(100))
        };
        let t0 = Instant::now();
        let mut s = Shaper::new(c, 3);
        let delays: Vec<Duration> = (0..1000)
            .map(|_| match s.handle(t0, 100) {
                Verdict::Deliver(t) => t - t0,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(delays.iter().all(|d| (100..=110).contains(&d.as_millis())));
        assert!(delays.iter().any(|d| d.as_millis() < 103));
        assert!(delays.iter().any(|d| d.as_millis() > 107));
    }

    fn rtp(ssrc: u32, seq: u16) -> Vec<u8> {
        let mut p = vec![0x80, 96];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0; 4]);
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(&[0xaa; 100]);
        p
    }

    #[test]
    fn datagrams_are_told_apart() {
        assert_eq!(classify(&[0, 1, 0, 0]), Datagram::Stun);
        assert_eq!(classify(&[22, 0xfe, 0xfd]), Datagram::Dtls);
        assert_eq!(classify(&rtp(9, 300)), Datagram::Rtp { ssrc: 9, seq: 300 });
        // Marker bit set on a payload type: still RTP.
        assert_eq!(
            classify(&[0x80, 0x80 | 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5]),
            Datagram::Rtp { ssrc: 5, seq: 1 }
        );
        assert_eq!(
            classify(&[0x81, 205, 0, 3, 0, 0, 0, 1]),
            Datagram::Rtcp {
                packet_type: 205,
                format: 1
            }
        );
        assert_eq!(classify(&[]), Datagram::Other);
        assert_eq!(classify(&[0x80, 96]), Datagram::Other);
    }

    #[test]
    fn a_blackout_drops_everything_including_what_is_on_the_way() {
        let t0 = Instant::now();
        let clear = Conditions::delay_only(Duration::from_millis(100));
        let mut link = Link::new(clear, clear, 1);
        let on_the_way = link
            .arrive(Direction::Up, t0, &rtp(1, 1))
            .expect("delivered");
        link.black_out(at(t0, 50), Duration::from_secs(5));
        assert!(!link.depart(Direction::Up, on_the_way, &rtp(1, 1)));
        assert_eq!(link.arrive(Direction::Down, at(t0, 60), &rtp(2, 1)), None);
        assert!(link.is_dark(at(t0, 5049)));
        assert!(!link.is_dark(at(t0, 5050)));
        let after = link.arrive(Direction::Up, at(t0, 5050), &rtp(1, 2));
        assert_eq!(after, Some(at(t0, 5150)));
        assert!(link.depart(Direction::Up, at(t0, 5150), &rtp(1, 2)));
        let up = link.counters(Direction::Up);
        assert_eq!((up.blackout_drops, up.delivered, up.rtp_dropped), (1, 1, 1));
        assert_eq!(link.counters(Direction::Down).blackout_drops, 1);
        assert_eq!(up.last_rtp_delivered, Some(at(t0, 5150)));
    }

    #[test]
    fn a_retransmission_of_a_dropped_packet_counts_as_repaired() {
        let t0 = Instant::now();
        let clear = Conditions::delay_only(Duration::ZERO);
        let mut link = Link::new(clear, clear, 1);
        link.black_out(t0, Duration::from_millis(10));
        assert_eq!(link.arrive(Direction::Up, t0, &rtp(1, 7)), None);
        let t1 = at(t0, 20);
        assert_eq!(link.arrive(Direction::Up, t1, &rtp(1, 7)), Some(t1));
        assert!(link.depart(Direction::Up, t1, &rtp(1, 7)));
        // A needless second retransmission repairs nothing more.
        assert_eq!(link.arrive(Direction::Up, t1, &rtp(1, 7)), Some(t1));
        assert!(link.depart(Direction::Up, t1, &rtp(1, 7)));
        // The hub's NACK and PLI on the way down.
        link.arrive(Direction::Down, t1, &[0x81, 205, 0, 3, 0, 0, 0, 1]);
        link.arrive(Direction::Down, t1, &[0x81, 206, 0, 2, 0, 0, 0, 1]);
        let up = link.counters(Direction::Up);
        assert_eq!(
            (up.rtp, up.retransmissions, up.rtp_dropped, up.repaired),
            (3, 2, 1, 1)
        );
        assert_eq!(up.by_ssrc, BTreeMap::from([(1, (1, 1))]));
        let down = link.counters(Direction::Down);
        assert_eq!((down.nacks, down.plis), (1, 1));
    }

    #[test]
    fn candidates_are_rewritten_to_the_relay() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
            a=candidate:1 1 udp 2130706431 127.0.0.1 52001 typ host\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
            a=candidate:1 1 udp 2130706431 127.0.0.1 52001 typ host\r\n";
        let hub: SocketAddr = "127.0.0.1:52001".parse().expect("addr");
        assert_eq!(candidates(sdp), [hub]);
        let relay: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
        let rewritten = rewrite_candidates(sdp, relay);
        assert_eq!(candidates(&rewritten), [relay]);
        assert_eq!(rewritten, sdp.replace("52001", "40000"));
    }
}
