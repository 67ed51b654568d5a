//! Locating SIP servers (RFC 3263 §4): which addresses, ports and
//! transports a request to a SIP or SIPS URI may go to, best first.
//!
//! What lives here: [`NextHop`], the crate's [`Locator`] (one shared DNS
//! resolver, built once when the endpoint binds) and the pure ordering
//! rules for NAPTR and SRV records. Depends on hickory-resolver (DNS over
//! UDP/TCP with the tokio runtime), rsipstack's URI type (crate-internal
//! only) and tokio's system resolver as a fallback.
//!
//! The procedure (RFC 3263 §4.1 transport, §4.2 port and address):
//! - an IP literal is used as it is; the port defaults to 5060, or 5061 for
//!   TLS (RFC 3261 §19.1.2);
//! - a host name with a port: A/AAAA only;
//! - a host name without a port and with a known transport (the URI's
//!   `transport` parameter, or the one the caller's dialog fixed): SRV
//!   `_sip._udp`, `_sip._tcp` or `_sips._tcp`, then A/AAAA of the targets;
//!   without SRV records, A/AAAA of the host with the default port;
//! - otherwise NAPTR (services `SIP+D2U`, `SIP+D2T`, `SIPS+D2T`, only the
//!   transports we have a listener for; `sips:` only `SIPS+D2T`) ordered by
//!   order and preference, each replacement followed to SRV; without
//!   usable NAPTR records, SRV for each transport we have (UDP, TCP, TLS);
//!   without those, A/AAAA with the default port over UDP (TLS for
//!   `sips:`).
//!
//! SRV records are taken by priority, and inside one priority by weighted
//! random choice (RFC 2782); a target of `.` means "no service". The
//! `transport` is what the request must use, so callers compute Via and
//! Contact from the chosen [`NextHop`]. Names under `localhost` are
//! loopback and names under `invalid` never resolve (RFC 6761 §6.3, §6.4);
//! neither goes to DNS.
//!
//! Every query has a short timeout ([`QUERY_TIMEOUT`], one retry), a DNS
//! server that does not answer is not asked for NAPTR or SRV again within
//! one resolution, and a whole resolution ends after
//! [`RESOLUTION_DEADLINE`], so a dead DNS server delays a call by seconds,
//! not minutes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::proto::rr::RecordType;
use hickory_resolver::proto::rr::rdata::{NAPTR, SRV};
use rsipstack::sip::{Host, Param, Scheme, Uri};
use tracing::{debug, warn};

use crate::{SipError, Transport};

/// How long one DNS query may take before it is sent again (once).
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// Retries of a DNS query that timed out or failed (so two tries in all).
const QUERY_RETRIES: usize = 1;

/// The longest one resolution (all its NAPTR, SRV and A/AAAA queries) may
/// take.
pub const RESOLUTION_DEADLINE: Duration = Duration::from_secs(10);

/// SRV targets whose addresses one resolution looks up at most; bounds the
/// queries a large zone can cause.
const MOST_SRV_TARGETS: usize = 8;

/// One place a request can go: an address and the transport to reach it
/// over. A list of these, best first, is the result of RFC 3263 server
/// location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NextHop {
    /// Where to send.
    pub address: SocketAddr,
    /// How: the request's Via and Contact must name this transport.
    pub transport: Transport,
}

/// The default port of `transport` (RFC 3261 §19.1.2).
pub(crate) fn default_port(transport: Transport) -> u16 {
    match transport {
        Transport::Udp | Transport::Tcp => 5060,
        Transport::Tls => 5061,
    }
}

/// The NAPTR service field that offers `transport` (RFC 3263 §4.1).
fn naptr_service(transport: Transport) -> &'static str {
    match transport {
        Transport::Udp => "SIP+D2U",
        Transport::Tcp => "SIP+D2T",
        Transport::Tls => "SIPS+D2T",
    }
}

/// The SRV owner name prefix of `transport` (RFC 3263 §4.2, RFC 2782).
fn srv_prefix(transport: Transport) -> &'static str {
    match transport {
        Transport::Udp => "_sip._udp",
        Transport::Tcp => "_sip._tcp",
        Transport::Tls => "_sips._tcp",
    }
}

/// The usable NAPTR records for SIP, best first: services we offer among
/// `transports`, the `s` flag (an SRV lookup follows) and a replacement
/// name, ordered by order then preference (RFC 3403 §4.1, RFC 3263 §4.1).
/// Returns each record's transport and replacement (an SRV owner name).
pub(crate) fn select_naptr(
    records: &[NAPTR],
    transports: &[Transport],
) -> Vec<(Transport, String)> {
    let mut usable: Vec<(u16, u16, Transport, String)> = records
        .iter()
        .filter(|record| record.flags.eq_ignore_ascii_case(b"s"))
        .filter(|record| !record.replacement.is_root())
        .filter_map(|record| {
            let service = std::str::from_utf8(&record.services).ok()?;
            let transport = transports
                .iter()
                .copied()
                .find(|t| naptr_service(*t).eq_ignore_ascii_case(service))?;
            Some((
                record.order,
                record.preference,
                transport,
                record.replacement.to_string(),
            ))
        })
        .collect();
    // Stable: records that tie keep the order the server sent them in.
    usable.sort_by_key(|(order, preference, _, _)| (*order, *preference));
    usable
        .into_iter()
        .map(|(_, _, transport, name)| (transport, name))
        .collect()
}

/// SRV records in the order to try them (RFC 2782 "Usage rules"): lowest
/// priority first; inside one priority, repeatedly pick a record at random
/// with probability proportional to its weight (weight-0 records first in
/// the running sum, so they are picked rarely but not never). `pick(total)`
/// returns a uniform number in `0..=total`. Records whose target is `.`
/// ("decidedly not available") are dropped.
pub(crate) fn order_srv(mut records: Vec<SRV>, mut pick: impl FnMut(u32) -> u32) -> Vec<SRV> {
    records.retain(|record| !record.target.is_root());
    records.sort_by_key(|record| (record.priority, record.weight != 0));
    let mut ordered = Vec::with_capacity(records.len());
    while let Some(first) = records.first() {
        let priority = first.priority;
        let same = records
            .iter()
            .take_while(|record| record.priority == priority)
            .count();
        let mut group: Vec<SRV> = records.drain(..same).collect();
        while !group.is_empty() {
            let total: u32 = group.iter().map(|record| u32::from(record.weight)).sum();
            let chosen = pick(total);
            let mut running = 0u32;
            let index = group
                .iter()
                .position(|record| {
                    running += u32::from(record.weight);
                    running >= chosen
                })
                .unwrap_or(group.len() - 1);
            ordered.push(group.remove(index));
        }
    }
    ordered
}

/// The transport a URI's `transport` parameter asks for; on a `sips:` URI
/// `transport=tcp` is TLS (RFC 5630 §3.1.3).
fn uri_transport(uri: &Uri, secure: bool) -> Result<Option<Transport>, SipError> {
    let Some(asked) = uri.params.iter().find_map(|param| match param {
        Param::Transport(transport) => Some(*transport),
        _ => None,
    }) else {
        return Ok(None);
    };
    match asked {
        rsipstack::sip::Transport::Udp if !secure => Ok(Some(Transport::Udp)),
        rsipstack::sip::Transport::Tcp if !secure => Ok(Some(Transport::Tcp)),
        rsipstack::sip::Transport::Tcp | rsipstack::sip::Transport::Tls => Ok(Some(Transport::Tls)),
        other => Err(SipError::UnsupportedTransport {
            transport: if secure && other == rsipstack::sip::Transport::Udp {
                "UDP for a sips: URI".to_string()
            } else {
                other.to_string()
            },
        }),
    }
}

/// Whether `name` is under a special-use top-level name (RFC 6761).
fn is_under(name: &str, top: &str) -> bool {
    let name = name.trim_end_matches('.');
    name.eq_ignore_ascii_case(top)
        || name.len().checked_sub(top.len() + 1).is_some_and(|cut| {
            name.as_bytes()[cut] == b'.' && name[cut + 1..].eq_ignore_ascii_case(top)
        })
}

/// Finds next hops for URIs. Built once per endpoint and shared by every
/// call; lookups run concurrently and share the resolver's cache.
pub(crate) struct Locator {
    /// `None`: the DNS configuration could not be read; host names go to the
    /// system resolver for A/AAAA only.
    resolver: Option<TokioResolver>,
}

impl std::fmt::Debug for Locator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locator")
            .field("dns", &self.resolver.is_some())
            .finish()
    }
}

impl Locator {
    /// A locator asking `servers` (each over UDP, TCP when a reply is
    /// truncated), or the name servers of the system configuration
    /// (`/etc/resolv.conf`) when `servers` is empty. When that cannot be
    /// read, logs one warning and falls back to the system resolver for
    /// A/AAAA (no NAPTR or SRV). Must be called inside a tokio runtime.
    pub(crate) fn new(servers: &[SocketAddr]) -> Locator {
        let builder = if servers.is_empty() {
            match TokioResolver::builder_tokio() {
                Ok(builder) => builder,
                Err(error) => {
                    warn!(
                        %error,
                        "cannot read the system DNS configuration; SIP host names resolve \
                         through the system resolver, A/AAAA only (no NAPTR or SRV)"
                    );
                    return Locator { resolver: None };
                }
            }
        } else {
            let name_servers = servers
                .iter()
                .map(|server| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = server.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = server.port();
                    NameServerConfig::new(server.ip(), true, vec![udp, tcp])
                })
                .collect();
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(name_servers),
                TokioRuntimeProvider::default(),
            )
        };
        let mut builder = builder;
        let options = builder.options_mut();
        // resolv.conf may ask for longer; a call must not wait that long.
        options.timeout = options.timeout.min(QUERY_TIMEOUT);
        options.attempts = options.attempts.min(QUERY_RETRIES);
        match builder.build() {
            Ok(resolver) => Locator {
                resolver: Some(resolver),
            },
            Err(error) => {
                warn!(
                    %error,
                    "cannot start the DNS resolver; SIP host names resolve through the \
                     system resolver, A/AAAA only (no NAPTR or SRV)"
                );
                Locator { resolver: None }
            }
        }
    }

    /// The next hops for a request to `uri`, best first (never empty).
    /// `fixed` is a transport the caller has already settled (a dialog's);
    /// otherwise the URI's `transport` parameter, else DNS, chooses, among
    /// `available` (our listeners, in the order UDP, TCP, TLS). The list may
    /// name a transport outside `available` when the URI or the RFC default
    /// demands it; the caller refuses that.
    ///
    /// Errs with [`SipError::Unreachable`] (naming the lookups tried) when
    /// no address is found or the lookups outlast [`RESOLUTION_DEADLINE`],
    /// and [`SipError::UnsupportedTransport`] for a `transport` parameter
    /// other than UDP, TCP or TLS. Cancel-safe: dropping the future
    /// abandons the lookups.
    pub(crate) async fn locate(
        &self,
        uri: &Uri,
        fixed: Option<Transport>,
        available: &[Transport],
    ) -> Result<Vec<NextHop>, SipError> {
        let secure = uri.scheme == Some(Scheme::Sips);
        let asked = match fixed {
            Some(transport) => Some(transport),
            None => uri_transport(uri, secure)?,
        };
        let fallback = asked.unwrap_or(if secure {
            Transport::Tls
        } else {
            Transport::Udp
        });
        let port = uri.host_with_port.port.as_ref().map(|port| port.value());
        let name = match &uri.host_with_port.host {
            Host::IpAddr(ip) => {
                return Ok(vec![NextHop {
                    address: SocketAddr::new(*ip, port.unwrap_or(default_port(fallback))),
                    transport: fallback,
                }]);
            }
            Host::Domain(domain) => domain.to_string(),
        };
        let destination = match port {
            Some(port) => format!("{name}:{port}"),
            None => name.clone(),
        };
        let unreachable = |reason: String| SipError::Unreachable {
            destination: destination.clone(),
            reason,
        };
        if is_under(&name, "invalid") {
            return Err(unreachable(
                "names under .invalid never resolve (RFC 6761 §6.4)".to_string(),
            ));
        }
        if is_under(&name, "localhost") {
            let port = port.unwrap_or(default_port(fallback));
            return Ok([
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ]
            .into_iter()
            .map(|ip| NextHop {
                address: SocketAddr::new(ip, port),
                transport: fallback,
            })
            .collect());
        }
        let mut search = Search {
            resolver: self.resolver.as_ref(),
            tried: Vec::new(),
            server_silent: false,
            targets_left: MOST_SRV_TARGETS,
        };
        let plan = Plan {
            name: &name,
            port,
            secure,
            asked,
            fallback,
            available,
        };
        let found = tokio::time::timeout(RESOLUTION_DEADLINE, search.run(&plan)).await;
        let tried = search.tried.join("; ");
        match found {
            Ok(hops) if !hops.is_empty() => {
                debug!(%destination, ?hops, "located");
                Ok(hops)
            }
            Ok(_) => Err(unreachable(format!("no address found ({tried})"))),
            Err(_) => Err(unreachable(format!(
                "DNS lookups took longer than {} s ({tried})",
                RESOLUTION_DEADLINE.as_secs()
            ))),
        }
    }
}

/// What one resolution is asked.
struct Plan<'a> {
    name: &'a str,
    port: Option<u16>,
    secure: bool,
    asked: Option<Transport>,
    fallback: Transport,
    available: &'a [Transport],
}

/// One resolution's progress: the lookups tried (for the error text) and
/// whether the DNS server has stopped answering.
struct Search<'a> {
    resolver: Option<&'a TokioResolver>,
    tried: Vec<String>,
    server_silent: bool,
    targets_left: usize,
}

/// How a DNS query ended without records.
enum Miss {
    /// The name or the record type does not exist.
    NoRecords,
    /// No answer (timeout, network error): the server may be down.
    Silent(String),
    /// An error answer (SERVFAIL, REFUSED, a malformed reply).
    Failed(String),
}

fn classify(error: &NetError) -> Miss {
    if error.is_no_records_found() {
        Miss::NoRecords
    } else if matches!(
        error,
        NetError::Timeout | NetError::Io(_) | NetError::NoConnections
    ) {
        Miss::Silent(error.to_string())
    } else {
        Miss::Failed(error.to_string())
    }
}

impl Search<'_> {
    async fn run(&mut self, plan: &Plan<'_>) -> Vec<NextHop> {
        let mut hops = Vec::new();
        if let Some(port) = plan.port {
            // RFC 3263 §4.2: an explicit port means no SRV.
            self.addresses(plan.name, port, plan.fallback, &mut hops)
                .await;
            return hops;
        }
        match plan.asked {
            Some(transport) => {
                let owner = format!("{}.{}", srv_prefix(transport), plan.name);
                self.srv(&owner, transport, &mut hops).await;
            }
            None => {
                let offered: &[Transport] = if plan.secure {
                    &[Transport::Tls]
                } else {
                    &[Transport::Udp, Transport::Tcp, Transport::Tls]
                };
                let transports: Vec<Transport> = offered
                    .iter()
                    .copied()
                    .filter(|t| plan.available.contains(t))
                    .collect();
                for (transport, owner) in self.naptr(plan.name, &transports).await {
                    self.srv(&owner, transport, &mut hops).await;
                }
                if hops.is_empty() {
                    for transport in transports {
                        let owner = format!("{}.{}", srv_prefix(transport), plan.name);
                        self.srv(&owner, transport, &mut hops).await;
                    }
                }
            }
        }
        if hops.is_empty() {
            self.addresses(
                plan.name,
                default_port(plan.fallback),
                plan.fallback,
                &mut hops,
            )
            .await;
        }
        hops
    }

    /// Note a failed query; a silent server is not asked for NAPTR or SRV
    /// again.
    fn note(&mut self, query: String, miss: Miss) {
        let outcome = match miss {
            Miss::NoRecords => "no records".to_string(),
            Miss::Silent(reason) => {
                self.server_silent = true;
                reason
            }
            Miss::Failed(reason) => reason,
        };
        self.tried.push(format!("{query}: {outcome}"));
    }

    async fn records(&mut self, name: &str, kind: RecordType) -> Vec<RData> {
        let query = format!("{kind} {name}");
        let Some(resolver) = self.resolver else {
            self.tried
                .push(format!("{query}: skipped (no DNS configuration)"));
            return Vec::new();
        };
        if self.server_silent {
            self.tried
                .push(format!("{query}: skipped (the DNS server did not answer)"));
            return Vec::new();
        }
        match resolver.lookup(name, kind).await {
            Ok(lookup) => {
                let records: Vec<RData> = lookup
                    .answers()
                    .iter()
                    .filter(|record| record.record_type() == kind)
                    .map(|record| record.data.clone())
                    .collect();
                if records.is_empty() {
                    self.note(query, Miss::NoRecords);
                }
                records
            }
            Err(error) => {
                self.note(query, classify(&error));
                Vec::new()
            }
        }
    }

    async fn naptr(&mut self, name: &str, transports: &[Transport]) -> Vec<(Transport, String)> {
        if transports.is_empty() {
            return Vec::new();
        }
        let records: Vec<NAPTR> = self
            .records(name, RecordType::NAPTR)
            .await
            .into_iter()
            .filter_map(|data| match data {
                RData::NAPTR(naptr) => Some(naptr),
                _ => None,
            })
            .collect();
        let selected = select_naptr(&records, transports);
        if !records.is_empty() && selected.is_empty() {
            self.tried
                .push(format!("NAPTR {name}: no usable SIP service"));
        }
        selected
    }

    async fn srv(&mut self, owner: &str, transport: Transport, hops: &mut Vec<NextHop>) {
        let records: Vec<SRV> = self
            .records(owner, RecordType::SRV)
            .await
            .into_iter()
            .filter_map(|data| match data {
                RData::SRV(srv) => Some(srv),
                _ => None,
            })
            .collect();
        let ordered = order_srv(records, |total| {
            use rand::Rng;
            rand::rng().random_range(0..=total)
        });
        for record in ordered {
            if self.targets_left == 0 || self.server_silent {
                break;
            }
            self.targets_left -= 1;
            self.addresses(&record.target.to_string(), record.port, transport, hops)
                .await;
        }
    }

    /// A/AAAA of `name`; always asked, even after a silent server, since
    /// the hosts file may answer.
    async fn addresses(
        &mut self,
        name: &str,
        port: u16,
        transport: Transport,
        hops: &mut Vec<NextHop>,
    ) {
        let query = format!("A/AAAA {name}");
        let found: Vec<IpAddr> = match self.resolver {
            Some(resolver) => match resolver.lookup_ip(name).await {
                Ok(lookup) => lookup.iter().collect(),
                Err(error) => {
                    self.note(query, classify(&error));
                    return;
                }
            },
            None => match tokio::net::lookup_host((name, port)).await {
                Ok(addresses) => addresses.map(|address| address.ip()).collect(),
                Err(error) => {
                    self.note(query, Miss::Failed(error.to_string()));
                    return;
                }
            },
        };
        if found.is_empty() {
            self.note(query, Miss::NoRecords);
        }
        for ip in found {
            let hop = NextHop {
                address: SocketAddr::new(ip, port),
                transport,
            };
            if !hops.contains(&hop) {
                hops.push(hop);
            }
        }
    }
}

#[cfg(test)]
mod tests;
