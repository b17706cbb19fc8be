//! Sends rendered ESC/POS bytes to a network printer over raw TCP (port 9100, "JetDirect").

use std::io;
use std::time::Duration;

use thiserror::Error;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The raw printing port of network printers.
pub const DEFAULT_PORT: u16 = 9100;

#[derive(Debug, Error)]
pub enum PrinterError {
    #[error("cannot connect to the printer at {address}")]
    Connect {
        address: String,
        #[source]
        source: io::Error,
    },
    #[error("the printer at {address} did not answer within {timeout:?}")]
    ConnectTimeout { address: String, timeout: Duration },
    #[error("sending to the printer at {address} failed")]
    Write {
        address: String,
        #[source]
        source: io::Error,
    },
    #[error("the printer at {address} did not take the data within {timeout:?}")]
    WriteTimeout { address: String, timeout: Duration },
}

/// A configured printer address with the raw printing port added when it has none:
/// `10.0.0.31` → `10.0.0.31:9100`, `fe80::1` → `[fe80::1]:9100`, `printer.lan:9101` as is.
pub fn with_default_port(address: &str) -> String {
    let has_port = address.rsplit_once(':').is_some_and(|(host, port)| {
        port.parse::<u16>().is_ok() && (!host.contains(':') || host.ends_with(']'))
    });
    if has_port {
        address.to_owned()
    } else if address.contains(':') && !address.starts_with('[') {
        format!("[{address}]:{DEFAULT_PORT}")
    } else {
        format!("{address}:{DEFAULT_PORT}")
    }
}

/// Sends `bytes` to `address` (`host:port`), waiting at most `timeout` to connect and
/// again at most `timeout` for the printer to take the data. A printer that is off, out
/// of paper with a full buffer, or unplugged fails within those bounds.
pub async fn send(address: &str, bytes: &[u8], timeout: Duration) -> Result<(), PrinterError> {
    let mut stream = tokio::time::timeout(timeout, TcpStream::connect(address))
        .await
        .map_err(|_| PrinterError::ConnectTimeout {
            address: address.to_owned(),
            timeout,
        })?
        .map_err(|source| PrinterError::Connect {
            address: address.to_owned(),
            source,
        })?;
    let write = async {
        stream.write_all(bytes).await?;
        // Closing our side tells the printer the job is complete.
        stream.shutdown().await
    };
    tokio::time::timeout(timeout, write)
        .await
        .map_err(|_| PrinterError::WriteTimeout {
            address: address.to_owned(),
            timeout,
        })?
        .map_err(|source| PrinterError::Write {
            address: address.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(5);

    #[test]
    fn addresses_without_a_port_get_the_raw_printing_port() {
        for (configured, address) in [
            ("10.0.0.31", "10.0.0.31:9100"),
            ("10.0.0.31:9101", "10.0.0.31:9101"),
            ("printer.lan", "printer.lan:9100"),
            ("printer.lan:9101", "printer.lan:9101"),
            ("fe80::1", "[fe80::1]:9100"),
            ("[fe80::1]", "[fe80::1]:9100"),
            ("[fe80::1]:9101", "[fe80::1]:9101"),
        ] {
            assert_eq!(with_default_port(configured), address, "{configured}");
        }
    }

    #[tokio::test]
    async fn the_printer_receives_exactly_the_bytes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let printer = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut received = Vec::new();
            socket.read_to_end(&mut received).await.unwrap();
            received
        });
        let bytes: Vec<u8> = b"\x1b@\x1bt\x01\x82\xa0\n\x1dVB\x00".repeat(1000);
        send(&address, &bytes, TIMEOUT).await.unwrap();
        assert_eq!(printer.await.unwrap(), bytes);
    }

    #[tokio::test]
    async fn a_dead_printer_is_a_connect_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        let err = send(&address, b"x", TIMEOUT).await.unwrap_err();
        let PrinterError::Connect {
            address: reported,
            source,
        } = &err
        else {
            panic!("expected a connect error, got {err:?}")
        };
        assert_eq!(reported, &address);
        assert_eq!(source.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(
            err.to_string(),
            format!("cannot connect to the printer at {address}")
        );
    }

    #[tokio::test]
    async fn a_printer_that_stops_reading_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        // Accepts and holds the connection without reading, like a jammed printer.
        let jammed = tokio::spawn(async move { listener.accept().await.unwrap() });
        // Far more than the kernel buffers on both ends can absorb.
        let bytes = vec![b'a'; 64 << 20];
        let timeout = Duration::from_millis(300);
        let err = send(&address, &bytes, timeout).await.unwrap_err();
        assert!(
            matches!(err, PrinterError::WriteTimeout { timeout: t, .. } if t == timeout),
            "{err:?}"
        );
        drop(jammed);
    }
}
