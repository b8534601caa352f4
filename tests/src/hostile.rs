//! A hostile HTTP peer for tests: a raw-socket server on 127.0.0.1 that answers every request
//! with exactly the bytes a test scripts (status line, header bytes, body bytes, framing and
//! pace included), so a test can send what no well-behaved HTTP library would: huge or
//! malformed retry hints, wrong lengths, endless or trickling bodies, a reply cut off midway.
//!
//! It reads each request head (and a declared body) before answering, records the request
//! line, and serves one reply per connection, then closes it.

use std::{
    io,
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

/// The longest request head the server reads before giving up on a connection.
const MAX_HEAD: usize = 64 * 1024;

/// How the bytes of a reply reach the client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pace {
    /// All at once, then the connection is closed, whatever the head announced (a reply cut
    /// off midway when it promised more).
    Whole,
    /// The scripted bytes, then endless 64 KiB chunks of a chunked body until the client
    /// hangs up (the head should say `transfer-encoding: chunked`).
    EndlessChunks,
    /// The scripted bytes, then `x` bytes of an identity body until the client hangs up.
    EndlessIdentity,
    /// One byte every `interval`, then nothing more (connection held open) until the client
    /// hangs up: a reply slower than any attempt timeout.
    Trickle(Duration),
    /// Nothing at all: the request is read and the connection held open in silence.
    Silent,
    /// The scripted status line, then a JSON error body whose `message` (top level and in an
    /// `error` object) is the request head as received: path, query and headers, credentials
    /// included, as a careless server would reflect them.
    Echo,
}

/// One scripted reply.
#[derive(Debug, Clone)]
pub struct Script {
    /// The exact bytes of the status line and headers, blank line included.
    pub head: Vec<u8>,
    /// The exact body bytes written after the head.
    pub body: Vec<u8>,
    /// How the bytes are written.
    pub pace: Pace,
}

impl Script {
    /// A reply of `status_line` (e.g. `"HTTP/1.1 429 Too Many Requests"`), the header lines
    /// as given (each without CR LF) and `body`, with a correct `content-length` unless a
    /// header line already names one, and `connection: close`.
    pub fn new(status_line: &str, headers: &[&str], body: impl Into<Vec<u8>>) -> Self {
        let body = body.into();
        let mut head = format!("{status_line}\r\n");
        for header in headers {
            head.push_str(header);
            head.push_str("\r\n");
        }
        let declares_length = headers.iter().any(|h| {
            let name = h.split(':').next().unwrap_or_default().trim();
            name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("transfer-encoding")
        });
        if !declares_length {
            head.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        head.push_str("connection: close\r\n\r\n");
        Self {
            head: head.into_bytes(),
            body,
            pace: Pace::Whole,
        }
    }

    /// A reply of raw bytes, head and body together, exactly as given.
    pub fn raw(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            head: bytes.into(),
            body: Vec::new(),
            pace: Pace::Whole,
        }
    }

    /// The same reply written at `pace`.
    #[must_use]
    pub fn paced(mut self, pace: Pace) -> Self {
        self.pace = pace;
        self
    }
}

/// A running hostile server; it stops when dropped.
#[derive(Debug)]
pub struct HostileServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl HostileServer {
    /// Binds 127.0.0.1 on a free port and answers every request with `script`.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start(script: Script) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let script = Arc::new(script);
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let script = Arc::clone(&script);
                let seen = Arc::clone(&seen);
                connections.spawn(async move {
                    let _ = serve(stream, &script, &seen).await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Self {
            addr,
            requests,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The request lines received so far (`"POST /path HTTP/1.1"`), in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        // Aborting the accept loop drops its `JoinSet`, which aborts every connection task.
        self.task.abort();
    }
}

/// Reads one request and writes the scripted reply.
async fn serve(
    mut stream: TcpStream,
    script: &Script,
    seen: &Mutex<Vec<String>>,
) -> io::Result<()> {
    let (request, body_left) = read_request(&mut stream, seen).await?;
    discard(&mut stream, body_left).await?;
    match &script.pace {
        Pace::Whole => {
            stream.write_all(&script.head).await?;
            stream.write_all(&script.body).await?;
            stream.flush().await?;
            stream.shutdown().await?;
            Ok(())
        }
        Pace::EndlessChunks => {
            stream.write_all(&script.head).await?;
            stream.write_all(&script.body).await?;
            let payload = vec![b'x'; 64 * 1024];
            let mut chunk = format!("{:x}\r\n", payload.len()).into_bytes();
            chunk.extend_from_slice(&payload);
            chunk.extend_from_slice(b"\r\n");
            loop {
                stream.write_all(&chunk).await?;
            }
        }
        Pace::EndlessIdentity => {
            stream.write_all(&script.head).await?;
            stream.write_all(&script.body).await?;
            let chunk = vec![b'x'; 64 * 1024];
            loop {
                stream.write_all(&chunk).await?;
            }
        }
        Pace::Trickle(interval) => {
            let bytes = script.head.iter().chain(&script.body);
            for byte in bytes {
                stream.write_all(&[*byte]).await?;
                stream.flush().await?;
                tokio::time::sleep(*interval).await;
            }
            hold(&mut stream).await
        }
        Pace::Silent => hold(&mut stream).await,
        Pace::Echo => {
            let message = serde_json::Value::String(request);
            let body = format!(
                r#"{{"success":false,"error":{{"status":400,"code":2001,"message":{message}}},"message":{message}}}"#
            );
            stream.write_all(&script.head).await?;
            let head = format!(
                "content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body.as_bytes()).await?;
            stream.shutdown().await
        }
    }
}

/// Reads the request head, records its first line and returns the head and the declared body
/// length.
async fn read_request(
    stream: &mut TcpStream,
    seen: &Mutex<Vec<String>>,
) -> io::Result<(String, u64)> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if head.len() > MAX_HEAD {
            return Err(io::Error::other("request head too long"));
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
    };
    let text = String::from_utf8_lossy(&head[..end]);
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<u64>().ok())
        .unwrap_or(0);
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(request_line);
    let already = u64::try_from(head.len() - end).unwrap_or(u64::MAX);
    Ok((text.into_owned(), length.saturating_sub(already)))
}

/// Reads and drops `len` bytes of request body.
async fn discard(stream: &mut TcpStream, mut len: u64) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    while len > 0 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        len = len.saturating_sub(u64::try_from(n).unwrap_or(u64::MAX));
    }
    Ok(())
}

/// Keeps the connection open, silent, until the client closes it.
async fn hold(stream: &mut TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 1024];
    while stream.read(&mut buf).await? > 0 {}
    Ok(())
}
