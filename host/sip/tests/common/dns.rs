//! A small authoritative DNS server for the tests: UDP on 127.0.0.1, a
//! fixed zone of records given by the test, hickory-proto (through
//! hickory-resolver's re-export) to decode queries and encode answers.
//!
//! Answers: the records whose owner and type match the question; NODATA
//! (NOERROR, no answers) when the owner exists with other types; NXDOMAIN
//! otherwise. Every question is recorded so a test can check which lookups
//! were made. The serving task answers at most [`MOST_QUERIES`] queries and
//! stops when the server is dropped.

use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use hickory_resolver::proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, NAPTR, SRV};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;

/// Queries one server answers before its task ends.
pub const MOST_QUERIES: usize = 10_000;

fn name(text: &str) -> Name {
    Name::from_str(text).expect("DNS name")
}

/// A NAPTR record with the `s` flag (an SRV lookup follows).
pub fn naptr(owner: &str, order: u16, preference: u16, service: &str, replacement: &str) -> Record {
    Record::from_rdata(
        name(owner),
        60,
        RData::NAPTR(NAPTR::new(
            order,
            preference,
            b"s".to_vec().into_boxed_slice(),
            service.as_bytes().into(),
            Box::new([]),
            name(replacement),
        )),
    )
}

/// An SRV record.
pub fn srv(owner: &str, priority: u16, weight: u16, port: u16, target: &str) -> Record {
    Record::from_rdata(
        name(owner),
        60,
        RData::SRV(SRV::new(priority, weight, port, name(target))),
    )
}

/// An A record.
pub fn a(owner: &str, address: Ipv4Addr) -> Record {
    Record::from_rdata(name(owner), 60, RData::A(A(address)))
}

/// The running server; stops when dropped.
pub struct DnsServer {
    address: SocketAddr,
    questions: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl DnsServer {
    /// Serve `zone` on a fresh 127.0.0.1 port.
    pub async fn start(zone: Vec<Record>) -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind DNS");
        let address = socket.local_addr().expect("DNS address");
        let questions = Arc::new(Mutex::new(Vec::new()));
        let seen = questions.clone();
        let task = tokio::spawn(async move {
            let mut buffer = vec![0u8; 4096];
            for _ in 0..MOST_QUERIES {
                let Ok((length, peer)) = socket.recv_from(&mut buffer).await else {
                    return;
                };
                let Ok(query) = Message::from_vec(&buffer[..length]) else {
                    continue;
                };
                let reply = answer(&zone, &query, &seen);
                if let Ok(bytes) = reply.to_vec() {
                    let _ = socket.send_to(&bytes, peer).await;
                }
            }
        });
        DnsServer {
            address,
            questions,
            task,
        }
    }

    /// Where it listens (for `SipConfig::dns_servers`).
    pub fn addr(&self) -> SocketAddr {
        self.address
    }

    /// The questions asked so far, as `TYPE name` with the name in lower
    /// case and without the final dot (`SRV _sip._tcp.example.test`).
    pub fn questions(&self) -> Vec<String> {
        self.questions.lock().expect("questions").clone()
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lower(name: &Name) -> String {
    name.to_string().trim_end_matches('.').to_ascii_lowercase()
}

fn answer(zone: &[Record], query: &Message, seen: &Mutex<Vec<String>>) -> Message {
    let mut reply = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    reply.metadata.authoritative = true;
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    let Some(question) = query.queries.first() else {
        reply.metadata.response_code = ResponseCode::FormErr;
        return reply;
    };
    reply.add_query(question.clone());
    let owner = lower(question.name());
    let kind = question.query_type();
    seen.lock()
        .expect("questions")
        .push(format!("{kind} {owner}"));
    let owned: Vec<&Record> = zone
        .iter()
        .filter(|record| lower(&record.name) == owner)
        .collect();
    if owned.is_empty() {
        reply.metadata.response_code = ResponseCode::NXDomain;
        return reply;
    }
    reply.add_answers(
        owned
            .into_iter()
            .filter(|record| record.record_type() == kind)
            .cloned(),
    );
    reply
}

/// A record type's name, for matching [`DnsServer::questions`].
pub fn question(kind: RecordType, owner: &str) -> String {
    format!("{kind} {owner}")
}
