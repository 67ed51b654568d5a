//! Status callbacks (seed 002) delivered to a real loopback HTTP receiver written
//! here with raw tokio sockets (independent of the hyper client under test).

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use callhost::status_callback::{
    RetryPolicy, StatusCallbackSpec, StatusEvent, StatusFields, StatusReporter,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Generous: the machine may be busy compiling.
const DEADLINE: Duration = Duration::from_secs(60);

/// One POST as the receiver saw it.
#[derive(Debug)]
struct Received {
    path: String,
    content_type: String,
    fields: Vec<(String, String)>,
    /// The status the receiver answered with.
    answered: u16,
}

impl Received {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn event(&self) -> &str {
        self.field("StatusCallbackEvent").unwrap_or("<none>")
    }
}

/// A loopback HTTP receiver answering the n-th POST with `statuses[n]` (200 after
/// the list runs out), reporting every request on a channel.
struct Receiver {
    url: String,
    received: mpsc::UnboundedReceiver<Received>,
    task: JoinHandle<()>,
}

impl Receiver {
    async fn start(statuses: Vec<u16>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let (sender, received) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut statuses = statuses.into_iter();
            // Bounded: a test never sends more than a few dozen requests.
            for _ in 0..100 {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let status = statuses.next().unwrap_or(200);
                answer(stream, status, &sender).await;
            }
        });
        Receiver {
            url: format!("http://{address}/status?account=7"),
            received,
            task,
        }
    }

    /// The next request, or a panic after the deadline.
    async fn next(&mut self) -> Received {
        tokio::time::timeout(DEADLINE, self.received.recv())
            .await
            .expect("a status callback within the deadline")
            .expect("the receiver is running")
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Read one request (head + Content-Length body), report it, then answer `status`
/// (in that order, so a sender that saw the answer finds the report already queued).
async fn answer(
    mut stream: TcpStream,
    status: u16,
    reports: &mpsc::UnboundedSender<Received>,
) -> Option<()> {
    let mut raw = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = raw.windows(4).position(|window| window == b"\r\n\r\n") {
            break end + 4;
        }
        if raw.len() > 64 * 1024 {
            return None;
        }
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        raw.extend_from_slice(&buffer[..read]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let length: usize = header("content-length")?.parse().ok()?;
    while raw.len() < head_end + length {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        raw.extend_from_slice(&buffer[..read]);
    }
    let body = String::from_utf8(raw[head_end..head_end + length].to_vec()).ok()?;
    let mut parts = request_line.split(' ');
    if parts.next() == Some("POST") {
        let _ = reports.send(Received {
            path: parts.next()?.to_owned(),
            content_type: header("content-type").unwrap_or_default(),
            fields: decode_form(&body),
            answered: status,
        });
    }
    let reply =
        format!("HTTP/1.1 {status} Whatever\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(reply.as_bytes()).await.ok()?;
    stream.shutdown().await.ok()
}

/// `application/x-www-form-urlencoded` parsing (`+` is space, `%XX` a byte).
fn decode_form(body: &str) -> Vec<(String, String)> {
    let decode = |text: &str| {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut index = 0;
        while index < bytes.len() {
            match bytes[index] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    index += 2;
                }
                byte => out.push(byte),
            }
            index += 1;
        }
        String::from_utf8(out).unwrap()
    };
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

/// Parse `Www, DD Mon YYYY HH:MM:SS +0000` (RFC 2822 §3.3, UTC) into Unix seconds,
/// checking that the day name matches the date.
fn parse_rfc2822(text: &str) -> u64 {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = text.split(' ').collect();
    assert_eq!(parts.len(), 6, "{text}");
    let weekday = parts[0]
        .strip_suffix(',')
        .unwrap_or_else(|| panic!("no comma after the day: {text}"));
    let day: u64 = parts[1].parse().unwrap();
    let month = MONTHS
        .iter()
        .position(|name| *name == parts[2])
        .unwrap_or_else(|| panic!("month in {text}")) as u64
        + 1;
    let year: u64 = parts[3].parse().unwrap();
    let clock: Vec<u64> = parts[4]
        .split(':')
        .map(|part| part.parse().unwrap())
        .collect();
    assert_eq!(clock.len(), 3, "{text}");
    assert_eq!(parts[5], "+0000", "{text}");
    // Days since 1970 by counting: simple and obviously right for this range.
    let is_leap = |year: u64| {
        (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
    };
    let month_days = [
        31,
        if is_leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    assert!(
        day >= 1 && day <= month_days[(month - 1) as usize],
        "{text}"
    );
    let mut days: u64 = (1970..year)
        .map(|y| if is_leap(y) { 366 } else { 365 })
        .sum();
    days += month_days[..(month - 1) as usize].iter().sum::<u64>() + day - 1;
    assert_eq!(weekday, DAYS[(days % 7) as usize], "day name of {text}");
    days * 86_400 + clock[0] * 3600 + clock[1] * 60 + clock[2]
}

fn fields(code: Option<u16>) -> StatusFields {
    StatusFields {
        sip_call_id: "a84b4c76e66710@host.example".into(),
        sip_response_code: code,
        ..StatusFields::default()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Short pauses so the give-up paths finish quickly.
fn quick_policy(attempts: usize) -> RetryPolicy {
    RetryPolicy {
        backoff: vec![Duration::from_millis(20); attempts - 1],
        request_timeout: Duration::from_secs(10),
    }
}

#[tokio::test]
async fn four_events_arrive_in_order_after_a_retry() {
    let mut receiver = Receiver::start(vec![500]).await;
    let spec = StatusCallbackSpec::new(receiver.url.clone(), StatusEvent::ALL.to_vec()).unwrap();
    let started = now();
    let reporter = StatusReporter::spawn(spec, "inst-42".into());
    reporter.report(StatusEvent::Initiated, fields(None));
    reporter.report(StatusEvent::Ringing, fields(Some(180)));
    reporter.report(
        StatusEvent::Answered,
        StatusFields {
            sip_headers: vec![
                ("X-Foo".into(), "bar baz&1".into()),
                ("Contact".into(), "<sip:b@h>".into()),
            ],
            ..fields(Some(200))
        },
    );
    reporter.report(
        StatusEvent::Completed,
        StatusFields {
            call_duration: Some(Duration::from_millis(12_700)),
            ..fields(Some(200))
        },
    );
    tokio::time::timeout(DEADLINE, reporter.finish())
        .await
        .expect("delivery ends")
        .unwrap();

    // The first POST was answered 500 and retried.
    let mut requests = Vec::new();
    for _ in 0..5 {
        requests.push(receiver.next().await);
    }
    let events: Vec<(&str, u16)> = requests
        .iter()
        .map(|request| (request.event(), request.answered))
        .collect();
    assert_eq!(
        events,
        [
            ("initiated", 500),
            ("initiated", 200),
            ("ringing", 200),
            ("answered", 200),
            ("completed", 200)
        ]
    );
    let statuses: Vec<&str> = requests
        .iter()
        .map(|request| request.field("CallStatus").unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "initiated",
            "initiated",
            "ringing",
            "in-progress",
            "completed"
        ]
    );

    for request in &requests {
        assert_eq!(request.path, "/status?account=7");
        assert_eq!(request.content_type, "application/x-www-form-urlencoded");
        assert_eq!(request.field("CallSid"), Some("inst-42"));
        assert_eq!(
            request.field("SipCallId"),
            Some("a84b4c76e66710@host.example")
        );
        let stamp = parse_rfc2822(request.field("Timestamp").expect("a Timestamp"));
        assert!(
            stamp + 5 >= started && stamp <= now() + 5,
            "timestamp {stamp} is not around now"
        );
    }
    // The retried request is the same event, stamped when it happened.
    assert_eq!(requests[0].fields, requests[1].fields);

    let [_, initiated, ringing, answered, completed] = &requests[..] else {
        unreachable!()
    };
    assert_eq!(initiated.field("SipResponseCode"), None);
    assert_eq!(ringing.field("SipResponseCode"), Some("180"));
    assert_eq!(answered.field("SipResponseCode"), Some("200"));
    assert_eq!(answered.field("SipHeader_X-Foo"), Some("bar baz&1"));
    assert!(
        answered
            .fields
            .iter()
            .all(|(name, _)| name != "SipHeader_Contact"),
        "only X- headers"
    );
    assert_eq!(completed.field("CallDuration"), Some("12"));
    for request in [initiated, ringing, answered] {
        assert_eq!(
            request.field("CallDuration"),
            None,
            "CallDuration on {}",
            request.event()
        );
    }
}

#[tokio::test]
async fn only_subscribed_events_are_sent() {
    let mut receiver = Receiver::start(vec![]).await;
    let spec = StatusCallbackSpec::new(
        receiver.url.clone(),
        vec![StatusEvent::Ringing, StatusEvent::Completed],
    )
    .unwrap();
    let reporter = StatusReporter::spawn(spec, "inst-1".into());
    for event in StatusEvent::ALL {
        reporter.report(event, fields(Some(200)));
    }
    tokio::time::timeout(DEADLINE, reporter.finish())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(receiver.next().await.event(), "ringing");
    assert_eq!(receiver.next().await.event(), "completed");
    assert!(
        receiver.received.try_recv().is_err(),
        "nothing else was sent"
    );
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let mut receiver = Receiver::start(vec![404]).await;
    let spec = StatusCallbackSpec::new(
        receiver.url.clone(),
        vec![StatusEvent::Initiated, StatusEvent::Completed],
    )
    .unwrap();
    let reporter = StatusReporter::spawn(spec, "inst-1".into());
    reporter.report(StatusEvent::Initiated, fields(None));
    reporter.report(StatusEvent::Completed, fields(Some(486)));
    tokio::time::timeout(DEADLINE, reporter.finish())
        .await
        .unwrap()
        .unwrap();
    let first = receiver.next().await;
    assert_eq!((first.event(), first.answered), ("initiated", 404));
    let second = receiver.next().await;
    assert_eq!((second.event(), second.answered), ("completed", 200));
    assert_eq!(second.field("SipResponseCode"), Some("486"));
    assert!(
        receiver.received.try_recv().is_err(),
        "the 404 was not retried"
    );
}

#[tokio::test]
async fn server_errors_are_given_up_after_the_last_attempt() {
    let mut receiver = Receiver::start(vec![503; 6]).await;
    let spec = StatusCallbackSpec::new(
        receiver.url.clone(),
        vec![StatusEvent::Ringing, StatusEvent::Completed],
    )
    .unwrap();
    let reporter = StatusReporter::spawn_with_policy(spec, "inst-1".into(), quick_policy(3));
    reporter.report(StatusEvent::Ringing, fields(Some(180)));
    reporter.report(StatusEvent::Completed, fields(Some(200)));
    tokio::time::timeout(DEADLINE, reporter.finish())
        .await
        .unwrap()
        .unwrap();
    let mut events = Vec::new();
    for _ in 0..6 {
        let request = receiver.next().await;
        events.push((request.event().to_owned(), request.answered));
    }
    let expected: Vec<(String, u16)> = [
        "ringing",
        "ringing",
        "ringing",
        "completed",
        "completed",
        "completed",
    ]
    .map(|event| (event.to_owned(), 503))
    .to_vec();
    assert_eq!(events, expected);
    assert!(receiver.received.try_recv().is_err());
}

#[tokio::test]
async fn an_unreachable_receiver_does_not_hold_the_call() {
    // Bound but not listening: connections are refused, and no other test can take the port.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let closed = socket.local_addr().unwrap();
    let spec =
        StatusCallbackSpec::new(format!("http://{closed}/cb"), StatusEvent::ALL.to_vec()).unwrap();
    let reporter = StatusReporter::spawn_with_policy(spec, "inst-1".into(), quick_policy(2));
    for event in StatusEvent::ALL {
        reporter.report(event, fields(None));
    }
    tokio::time::timeout(DEADLINE, reporter.finish())
        .await
        .expect("gives up in bounded time")
        .unwrap();
}

#[tokio::test]
async fn dropping_the_reporter_still_delivers_queued_events() {
    let mut receiver = Receiver::start(vec![]).await;
    let spec = StatusCallbackSpec::new(receiver.url.clone(), StatusEvent::ALL.to_vec()).unwrap();
    let reporter = StatusReporter::spawn(spec, "inst-1".into());
    reporter.report(StatusEvent::Initiated, fields(None));
    reporter.report(StatusEvent::Ringing, fields(Some(180)));
    drop(reporter);
    assert_eq!(receiver.next().await.event(), "initiated");
    assert_eq!(receiver.next().await.event(), "ringing");
}

#[tokio::test]
async fn a_full_queue_drops_events_instead_of_blocking() {
    let mut receiver = Receiver::start(vec![]).await;
    let spec = StatusCallbackSpec::new(receiver.url.clone(), StatusEvent::ALL.to_vec()).unwrap();
    let reporter = StatusReporter::spawn(spec, "inst-1".into());
    // On this single-threaded test runtime the delivery task cannot run between these
    // calls, so exactly the queue's capacity is kept and the rest is dropped.
    for _ in 0..3 * callhost::status_callback::QUEUE_CAPACITY {
        reporter.report(StatusEvent::Ringing, fields(Some(180)));
    }
    tokio::time::timeout(DEADLINE, reporter.finish())
        .await
        .unwrap()
        .unwrap();
    for _ in 0..callhost::status_callback::QUEUE_CAPACITY {
        assert_eq!(receiver.next().await.event(), "ringing");
    }
    assert!(
        receiver.received.try_recv().is_err(),
        "events over the queue's capacity were dropped"
    );
}
