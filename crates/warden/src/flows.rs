//! The flow collector inside `warden serve` (DDOS-2): a UDP socket receiving NetFlow v5/v9,
//! IPFIX and sFlow v5 from the configured exporters, decoded and aggregated by `warden-flow`,
//! and every tick the loud IPs' rates handed to [`App::ingest_flow_rates`].
//!
//! Two halves that never wait for each other. The receive loop is a dedicated OS thread: it
//! owns the socket, the [`Collector`] and the [`FlowTables`], decodes each datagram as it comes
//! (CPU work that would hold up an async worker) and, once a tick, computes the tick's rates
//! and leaves them in a one-place slot. The writer is a tokio task that takes whatever the slot
//! holds and writes it to the database. A slow database never stops the socket being read: if
//! the writer has not taken the previous tick when the next is ready, the older one is replaced
//! (each tick carries rates over the whole window, so the newer one says everything the older
//! did) and counted as dropped. The kernel's receive buffer (`receive_buffer_bytes`) absorbs the
//! moments the loop spends on a tick; what it still drops is read from `/proc/net/udp` and
//! exported, so "no drops" is measured rather than assumed.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use warden_app::App;
use warden_app::ddos::{FlowRate, MAX_SAMPLES};
use warden_app::metrics::FlowStats;
use warden_domain::time::Timestamp;
use warden_flow::{Collector, CollectorConfig, FlowTables, IpRates, TablesConfig};

/// The collector's settings, from `[flows]` (checked there).
#[derive(Debug, Clone)]
pub struct FlowSettings {
    /// The UDP address to receive on.
    pub listen: SocketAddr,
    /// Exporter allow-list, sampling overrides and the decoder's bounds.
    pub collector: CollectorConfig,
    /// Window, tracked IPs, local prefixes, noise floor.
    pub tables: TablesConfig,
    /// How often rates go to the database.
    pub tick: Duration,
    /// This node's name (`flow:<node>`).
    pub node: String,
    /// Templates unused for this long are forgotten.
    pub template_expiry_ms: i64,
    /// The socket's receive buffer asked for.
    pub receive_buffer_bytes: usize,
}

/// The host name (`/proc/sys/kernel/hostname`, `/etc/hostname`, `$HOSTNAME`), else `node`.
pub fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .chain(std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "node".into())
}

/// Binds the collector's socket with the receive buffer asked for (the kernel may grant less:
/// it is logged).
pub fn bind(settings: &FlowSettings) -> anyhow::Result<UdpSocket> {
    let addr = settings.listen;
    let s = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .context("cannot create the flow collector's socket")?;
    if let Err(e) = s.set_recv_buffer_size(settings.receive_buffer_bytes) {
        tracing::warn!(error = %e, "flows: cannot set the receive buffer size");
    }
    s.bind(&addr.into())
        .with_context(|| format!("flows.listen: cannot bind udp {addr}"))?;
    let granted = s.recv_buffer_size().unwrap_or(0);
    if granted < settings.receive_buffer_bytes {
        tracing::warn!(
            asked = settings.receive_buffer_bytes,
            granted,
            "flows: the kernel granted a smaller receive buffer (raise net.core.rmem_max)"
        );
    }
    let sock: UdpSocket = s.into();
    // The loop wakes at least this often to see a tick or a stop without traffic.
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    Ok(sock)
}

/// A tick's rates waiting for the writer.
#[derive(Debug)]
struct Tick {
    at: i64,
    rates: Vec<FlowRate>,
}

/// What the receive loop and the writer share.
#[derive(Debug, Default)]
struct Shared {
    slot: Mutex<Option<Tick>>,
    ready: tokio::sync::Notify,
    stop: AtomicBool,
    ticks_written: AtomicU64,
    ticks_dropped: AtomicU64,
    ticks_failed: AtomicU64,
    rates_stored: AtomicU64,
    rates_unknown: AtomicU64,
    rates_stale: AtomicU64,
}

/// A running collector.
#[derive(Debug)]
pub struct FlowCollector {
    local: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
    writer: tokio::task::JoinHandle<()>,
    app: App,
}

/// Starts the receive loop on `socket` and the writer, feeding `app`.
pub fn start(settings: FlowSettings, socket: UdpSocket, app: App) -> anyhow::Result<FlowCollector> {
    let local = socket.local_addr()?;
    let shared = Arc::new(Shared::default());
    let writer = {
        let (app, shared, node) = (app.clone(), shared.clone(), settings.node.clone());
        let window = settings.tables.window_secs;
        tokio::spawn(async move { write_loop(app, shared, node, window).await })
    };
    let thread = {
        let (app, shared) = (app.clone(), shared.clone());
        std::thread::Builder::new()
            .name("flows-recv".into())
            .spawn(move || receive_loop(socket, settings, app, shared))
            .context("cannot start the flow collector's thread")?
    };
    Ok(FlowCollector {
        local,
        shared,
        thread: Some(thread),
        writer,
        app,
    })
}

impl FlowCollector {
    /// The address the socket is bound to (the port when `listen` said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Stops both halves (the loop within its 50 ms read timeout; a write in progress is
    /// finished) and logs what the collector did.
    pub async fn shutdown(mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.ready.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        let _ = (&mut self.writer).await;
        if let Some(s) = self.app.metrics.flows() {
            let c = &s.collector;
            tracing::info!(
                packets_received = c.packets_received,
                packets_decoded = c.packets_decoded,
                exporter_not_allowed = c.packets_exporter_not_allowed,
                truncated = c.packets_truncated,
                garbage = c.packets_garbage,
                oversized = c.packets_oversized,
                socket_drops = s.socket_drops.unwrap_or(0),
                records = c.records_decoded,
                sets_without_template = c.sets_without_template,
                templates = s.templates,
                ticks_written = s.ticks_written,
                ticks_dropped = s.ticks_dropped,
                ticks_failed = s.ticks_failed,
                "flow collector stopped"
            );
        }
    }
}

fn receive_loop(socket: UdpSocket, settings: FlowSettings, app: App, shared: Arc<Shared>) {
    let mut collector = Collector::new(settings.collector.clone());
    let mut tables = FlowTables::new(settings.tables.clone());
    let mut buf = vec![0u8; 65_536];
    let mut records = Vec::with_capacity(2_048);
    let mut receive_errors = 0u64;
    let inode = socket_inode(&socket);
    let mut next_tick = Instant::now() + settings.tick;
    while !shared.stop.load(Ordering::Relaxed) {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                let now = app.now();
                records.clear();
                let datagram = buf.get(..n).unwrap_or_default();
                collector.ingest_into(from.ip(), datagram, now, &mut records);
                for r in &records {
                    tables.observe(r, now);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                receive_errors += 1;
                tracing::debug!(error = %e, "flows: receive error");
            }
        }
        if Instant::now() < next_tick {
            continue;
        }
        // Missed ticks are skipped, not caught up: each tick covers the whole window.
        next_tick = Instant::now() + settings.tick;
        let now = app.now();
        collector.expire_templates(now, settings.template_expiry_ms);
        let rates: Vec<FlowRate> = tables.tick(now).into_iter().map(flow_rate).collect();
        if !rates.is_empty() {
            let replaced = shared
                .slot
                .lock()
                .ok()
                .and_then(|mut s| s.replace(Tick { at: now, rates }));
            if replaced.is_some() {
                shared.ticks_dropped.fetch_add(1, Ordering::Relaxed);
            }
            shared.ready.notify_one();
        }
        app.metrics.set_flows(stats(
            &collector,
            &tables,
            &shared,
            receive_errors,
            inode.and_then(socket_drops),
        ));
    }
    app.metrics.set_flows(stats(
        &collector,
        &tables,
        &shared,
        receive_errors,
        inode.and_then(socket_drops),
    ));
}

fn stats(
    collector: &Collector,
    tables: &FlowTables,
    shared: &Shared,
    receive_errors: u64,
    socket_drops: Option<u64>,
) -> FlowStats {
    let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
    FlowStats {
        collector: collector.counters().clone(),
        templates: collector.template_count() as u64,
        tracked: (
            tables.inbound().tracked() as u64,
            tables.outbound().tracked() as u64,
        ),
        evicted: (tables.inbound().evicted(), tables.outbound().evicted()),
        receive_errors,
        socket_drops,
        ticks_written: g(&shared.ticks_written),
        ticks_dropped: g(&shared.ticks_dropped),
        ticks_failed: g(&shared.ticks_failed),
        rates: (
            g(&shared.rates_stored),
            g(&shared.rates_unknown),
            g(&shared.rates_stale),
        ),
    }
}

fn flow_rate(r: IpRates) -> FlowRate {
    FlowRate {
        ip: r.ip,
        in_bps: r.inbound.bps,
        in_pps: r.inbound.pps,
        out_bps: r.outbound.bps,
        out_pps: r.outbound.pps,
        out_peers: r.out_peers,
        top_protocols: r.top_protocols,
        top_sources: r.top_sources,
    }
}

async fn write_loop(app: App, shared: Arc<Shared>, node: String, window_secs: u32) {
    loop {
        shared.ready.notified().await;
        let tick = shared.slot.lock().ok().and_then(|mut s| s.take());
        if let Some(tick) = tick {
            write_tick(&app, &shared, &node, window_secs, tick).await;
        }
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
    }
}

/// Writes one tick, in batches of at most [`MAX_SAMPLES`] IPs (one transaction each).
async fn write_tick(app: &App, shared: &Shared, node: &str, window_secs: u32, tick: Tick) {
    let mut ok = true;
    for chunk in tick.rates.chunks(MAX_SAMPLES) {
        match app
            .ingest_flow_rates(node, Timestamp(tick.at), window_secs, chunk)
            .await
        {
            Ok(r) => {
                shared
                    .rates_stored
                    .fetch_add(r.accepted as u64, Ordering::Relaxed);
                shared
                    .rates_unknown
                    .fetch_add(r.unknown_ip as u64, Ordering::Relaxed);
                shared
                    .rates_stale
                    .fetch_add(r.stale as u64, Ordering::Relaxed);
                for id in &r.blackholed {
                    tracing::info!(blackhole = %id, node, "flows: blackhole started");
                }
            }
            Err(e) => {
                ok = false;
                tracing::warn!(error = %e, ips = chunk.len(), "flows: writing a tick failed");
            }
        }
    }
    let counter = if ok {
        &shared.ticks_written
    } else {
        &shared.ticks_failed
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The socket's inode, to find its line in `/proc/net/udp` (Linux).
fn socket_inode(socket: &UdpSocket) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        let fd = socket.as_raw_fd();
        std::fs::metadata(format!("/proc/self/fd/{fd}"))
            .ok()
            .map(|m| m.ino())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = socket;
        None
    }
}

/// Datagrams the kernel dropped on the socket of `inode` (its receive buffer was full).
fn socket_drops(inode: u64) -> Option<u64> {
    udp_drops(|_, ino| ino == inode)
}

/// The kernel's drop counts of the UDP sockets bound to local `port` (any address, any process;
/// the bench reads nfcapd's this way), summed; `None` when there is none or no `/proc/net/udp`.
pub fn port_drops(port: u16) -> Option<u64> {
    udp_drops(|p, _| p == port)
}

/// Sums the `drops` column of the `/proc/net/udp{,6}` lines `matches(local_port, inode)`.
fn udp_drops(matches: impl Fn(u16, u64) -> bool) -> Option<u64> {
    let mut found = None;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let port = cols
                .get(1)
                .and_then(|a| a.rsplit_once(':'))
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            let inode = cols.get(9).and_then(|i| i.parse::<u64>().ok());
            let drops = cols.last().and_then(|d| d.parse::<u64>().ok());
            if let (Some(port), Some(inode), Some(drops)) = (port, inode, drops)
                && matches(port, inode)
            {
                found = Some(found.unwrap_or(0) + drops);
            }
        }
    }
    found
}
