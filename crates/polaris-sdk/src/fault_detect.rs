//! Active fault detection: periodic TCP, HTTP and UDP probes of a service's instances, as its
//! FAULT_DETECTOR rules describe them, reported to the instance circuit breakers.
//!
//! Instances are probed when their breaker is not closed or its rule asks for fault
//! detection; a failed probe counts as a failed call, a successful one as a success.

use std::sync::Arc;
use std::time::Duration;

use polaris_traffic::breaker::{
    BreakerStatus, FaultDetectRules, Outcome, ProbeProtocol, ProbeSpec, Resource,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::client::Inner;
use crate::consumer::cache::{ResourceKind, ServiceKey};
use crate::consumer::select::traffic_key;

/// Rounds never run more often than this, whatever the rules say.
const MIN_ROUND: Duration = Duration::from_secs(1);
/// Period of a round while the service has no fault-detect rule.
const IDLE_ROUND: Duration = Duration::from_secs(10);

/// Runs one probe; true when the instance answered as expected within the timeout.
pub async fn probe(spec: &ProbeSpec) -> bool {
    let address = format!("{}:{}", spec.instance.host, spec.port);
    matches!(
        tokio::time::timeout(spec.timeout, run(spec, &address)).await,
        Ok(Ok(true))
    )
}

async fn run(spec: &ProbeSpec, address: &str) -> std::io::Result<bool> {
    match spec.protocol {
        ProbeProtocol::Tcp => {
            let mut stream = TcpStream::connect(address).await?;
            let Some(payload) = spec.payload.as_ref().filter(|p| !p.send.is_empty()) else {
                return Ok(true);
            };
            stream.write_all(payload.send.as_bytes()).await?;
            if payload.receive.is_empty() {
                return Ok(true);
            }
            let mut buf = vec![0u8; 4096];
            let n = stream.read(&mut buf).await?;
            let answer = String::from_utf8_lossy(&buf[..n]);
            Ok(payload.receive.iter().any(|r| answer.contains(r.as_str())))
        }
        ProbeProtocol::Udp => {
            let socket = UdpSocket::bind("0.0.0.0:0").await?;
            socket.connect(address).await?;
            let payload = spec
                .payload
                .clone()
                .unwrap_or(polaris_traffic::breaker::TcpProbe {
                    send: String::new(),
                    receive: Vec::new(),
                });
            socket.send(payload.send.as_bytes()).await?;
            if payload.receive.is_empty() {
                return Ok(true);
            }
            let mut buf = vec![0u8; 4096];
            let n = socket.recv(&mut buf).await?;
            let answer = String::from_utf8_lossy(&buf[..n]);
            Ok(payload.receive.iter().any(|r| answer.contains(r.as_str())))
        }
        ProbeProtocol::Http => {
            let Some(http) = &spec.http else {
                return Ok(false);
            };
            let mut stream = TcpStream::connect(address).await?;
            let mut request = format!(
                "{} {} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nUser-Agent: polaris-sdk-probe\r\n",
                http.method, http.url
            );
            for (k, v) in &http.headers {
                request.push_str(&format!("{k}: {v}\r\n"));
            }
            request.push_str(&format!("Content-Length: {}\r\n\r\n", http.body.len()));
            request.push_str(&http.body);
            stream.write_all(request.as_bytes()).await?;
            let mut head = Vec::with_capacity(64);
            let mut byte = [0u8; 1];
            while head.len() < 1024 && !head.ends_with(b"\r\n") {
                if stream.read(&mut byte).await? == 0 {
                    break;
                }
                head.push(byte[0]);
            }
            let line = String::from_utf8_lossy(&head);
            let status = line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse::<u16>().ok());
            Ok(status.is_some_and(|s| http.expected_status.contains(&s)))
        }
    }
}

/// Starts the probe loop of `service` (called once per service).
pub(crate) fn start(inner: &Inner, service: &ServiceKey) {
    let detector = inner.entry(ResourceKind::FaultDetector, service);
    let instances = inner.entry(ResourceKind::Instances, service);
    let breakers = inner.breakers.clone();
    let mut shutdown = inner.shutdown.subscribe();
    let key = traffic_key(service);
    tokio::spawn(async move {
        let mut compiled: Option<(usize, Arc<FaultDetectRules>)> = None;
        loop {
            let mut round = IDLE_ROUND;
            if let (Some(rules), Some(list)) = (detector.current(), instances.current())
                && let Some(message) = rules.response.fault_detector.as_ref()
                && !message.rules.is_empty()
            {
                let id = Arc::as_ptr(&rules) as usize;
                let detect = match &compiled {
                    Some((seen, detect)) if *seen == id => detect.clone(),
                    _ => {
                        let detect = Arc::new(FaultDetectRules::compile(message).0);
                        compiled = Some((id, detect.clone()));
                        detect
                    }
                };
                let specs = detect.probes_for(&key, &list.instances.instances);
                for spec in &specs {
                    round = round.min(spec.interval);
                    let resource = Resource::Instance(
                        key.clone(),
                        spec.instance.host.clone(),
                        spec.instance.port,
                    );
                    if breakers.status(&resource) == BreakerStatus::Closed
                        && !breakers.wants_fault_detection(&resource)
                    {
                        continue;
                    }
                    let started = tokio::time::Instant::now();
                    let ok = probe(spec).await;
                    let outcome = Outcome {
                        code: if ok { "0" } else { "probe-failed" },
                        delay: started.elapsed(),
                        success: ok,
                    };
                    tracing::debug!(instance = %spec.instance.id, ok, "fault-detect probe");
                    breakers.report(None, &resource, &outcome);
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(round.max(MIN_ROUND)) => {}
                _ = shutdown.changed() => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use polaris_traffic::Instance;
    use polaris_traffic::breaker::{HttpProbe, TcpProbe};
    use tokio::net::TcpListener;

    fn spec(port: u16, protocol: ProbeProtocol) -> ProbeSpec {
        ProbeSpec {
            rule: "r".into(),
            instance: Arc::new(Instance {
                host: "127.0.0.1".into(),
                port: port.into(),
                ..Default::default()
            }),
            protocol,
            port: port.into(),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
            http: None,
            payload: None,
        }
    }

    async fn server(reply: &'static [u8]) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(reply).await;
            }
        });
        port
    }

    #[tokio::test]
    async fn tcp_and_http_probes() {
        let port = server(b"HTTP/1.1 204 No Content\r\n\r\n").await;
        assert!(probe(&spec(port, ProbeProtocol::Tcp)).await);
        let mut http = spec(port, ProbeProtocol::Http);
        http.http = Some(HttpProbe {
            method: "GET".into(),
            url: "/health".into(),
            headers: vec![("x-a".into(), "b".into())],
            body: String::new(),
            expected_status: 200..=399,
        });
        assert!(probe(&http).await);
        let bad = server(b"HTTP/1.1 503 Unavailable\r\n\r\n").await;
        let mut http_bad = http.clone();
        http_bad.port = bad.into();
        assert!(!probe(&http_bad).await);
        let mut tcp = spec(port, ProbeProtocol::Tcp);
        tcp.payload = Some(TcpProbe {
            send: "ping".into(),
            receive: vec!["204".into()],
        });
        assert!(probe(&tcp).await);
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        assert!(!probe(&spec(closed_port, ProbeProtocol::Tcp)).await);
    }
}
