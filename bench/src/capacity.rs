//! The sandbox's own capacity: the same signed removals sent by a trivial raw-HTTP/1.1 client
//! (requests formatted before the clock starts, keep-alive connections, replies only framed by
//! `Content-Length`, never parsed), so nearly all the CPU spent is the sandbox's.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{cpu, overhead::RunResult};

/// The raw bytes of a signed `DELETE` of `address` from each chat in `chats`.
#[must_use]
pub fn requests(
    addr: SocketAddr,
    tenant: &str,
    signature: &str,
    chats: &[String],
    address: &str,
) -> Vec<Vec<u8>> {
    let address = address.replace('+', "%2B");
    chats
        .iter()
        .map(|chat| {
            format!(
                "DELETE /chert/api/v1/chats/{chat}/participants/{address} HTTP/1.1\r\n\
                 host: {addr}\r\nx-chert-tenant: {tenant}\r\nx-chert-signature: {signature}\r\n\r\n"
            )
            .into_bytes()
        })
        .collect()
}

/// Sends every request of `requests` over `concurrency` keep-alive connections to `addr`.
///
/// # Errors
/// A connection failure or a reply other than 200.
pub async fn drive(
    addr: SocketAddr,
    requests: Arc<[Vec<u8>]>,
    concurrency: usize,
    server_pid: u32,
) -> Result<RunResult, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut streams = Vec::new();
    for _ in 0..concurrency.max(1) {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        streams.push(stream);
    }
    let server0 = cpu::pid_cpu(server_pid);
    let cpu0 = cpu::process_cpu();
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for mut stream in streams {
        let (requests, next) = (Arc::clone(&requests), Arc::clone(&next));
        tasks.spawn(async move {
            let mut buf = Vec::with_capacity(8192);
            let mut done = 0usize;
            while let Some(request) = requests.get(next.fetch_add(1, Ordering::Relaxed)) {
                stream.write_all(request).await.map_err(|e| e.to_string())?;
                read_reply(&mut stream, &mut buf).await?;
                done += 1;
            }
            Ok::<_, String>(done)
        });
    }
    let mut ops = 0;
    while let Some(joined) = tasks.join_next().await {
        ops += joined.map_err(|e| format!("task failed: {e}"))??;
    }
    let wall = t0.elapsed();
    let cpu = cpu::process_cpu().saturating_sub(cpu0);
    let server_cpu = cpu::pid_cpu(server_pid)
        .zip(server0)
        .map(|(b, a)| b.saturating_sub(a));
    Ok(RunResult {
        ops,
        roster_entries: 0,
        wall,
        cpu,
        server_cpu,
    })
}

/// Reads one `Content-Length`-framed reply and checks its status is 200.
async fn read_reply(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(), String> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the sandbox closed the connection".to_owned());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    };
    let head = String::from_utf8_lossy(buf.get(..head_end).unwrap_or_default()).into_owned();
    if !head.starts_with("HTTP/1.1 200 ") {
        return Err(format!(
            "the sandbox answered {:?}",
            head.lines().next().unwrap_or_default()
        ));
    }
    let length: usize = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .ok_or("a reply without Content-Length")?;
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the sandbox closed the connection mid-reply".to_owned());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    Ok(())
}
