//! Kafka Connect's `listeners` (`http://host:port,https://host:port`) and
//! `rest.advertised.listener`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

use crate::config::ConfigError;

pub const LISTENERS: &str = "listeners";
pub const REST_ADVERTISED_LISTENER: &str = "rest.advertised.listener";

/// The protocol of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// Returns `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// One listener: a protocol and the address it binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerSpec {
    pub scheme: Scheme,
    pub addr: SocketAddr,
}

fn invalid(key: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// Parses `listeners`: one or more `PROTOCOL://HOST:PORT`, comma-separated (an empty host binds
/// every interface).
///
/// # Errors
/// An empty list, a protocol other than http/https, a bad port or a host that does not resolve.
pub fn parse_listeners(raw: &str) -> Result<Vec<ListenerSpec>, ConfigError> {
    let mut listeners = Vec::new();
    for listener in raw
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let Some((scheme, host_port)) = listener.split_once("://") else {
            return Err(invalid(
                LISTENERS,
                raw,
                "expected PROTOCOL://HOST:PORT, such as http://127.0.0.1:8083",
            ));
        };
        let scheme = if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else {
            return Err(invalid(
                LISTENERS,
                raw,
                "the protocol must be http or https",
            ));
        };
        let Some((host, port)) = host_port.rsplit_once(':') else {
            return Err(invalid(LISTENERS, raw, "missing port"));
        };
        let port: u16 = port
            .parse()
            .map_err(|_| invalid(LISTENERS, raw, "port must be a number from 0 to 65535"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addr = if host.is_empty() || host == "0.0.0.0" {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)
        } else {
            resolve(&format!("{host}:{port}"))
                .ok_or_else(|| invalid(LISTENERS, raw, "host does not resolve to an address"))?
        };
        listeners.push(ListenerSpec { scheme, addr });
    }
    if listeners.is_empty() {
        return Err(invalid(
            LISTENERS,
            raw,
            "expected at least one listener such as http://127.0.0.1:8083",
        ));
    }
    Ok(listeners)
}

fn resolve(host_port: &str) -> Option<SocketAddr> {
    if let Ok(addr) = host_port.parse::<SocketAddr>() {
        return Some(addr);
    }
    host_port.to_socket_addrs().ok()?.next()
}

/// Picks the listener other workers reach (Kafka Connect's rule): `rest.advertised.listener`
/// when set, else the first http listener, else the first https one.
///
/// # Errors
/// `rest.advertised.listener` is not http/https or names a protocol no listener has.
pub fn advertised_listener(
    listeners: &[ListenerSpec],
    advertised_opt: Option<&str>,
) -> Result<ListenerSpec, ConfigError> {
    let wanted = match advertised_opt.map(str::trim).filter(|raw| !raw.is_empty()) {
        Some(raw) if raw.eq_ignore_ascii_case("http") => Scheme::Http,
        Some(raw) if raw.eq_ignore_ascii_case("https") => Scheme::Https,
        Some(raw) => {
            return Err(invalid(
                REST_ADVERTISED_LISTENER,
                raw,
                "must be http or https",
            ))
        }
        None => {
            let first_http = listeners.iter().find(|spec| spec.scheme == Scheme::Http);
            return Ok(*first_http.unwrap_or(&listeners[0]));
        }
    };
    listeners
        .iter()
        .find(|spec| spec.scheme == wanted)
        .copied()
        .ok_or_else(|| {
            invalid(
                REST_ADVERTISED_LISTENER,
                wanted.as_str(),
                "no listener in `listeners` uses this protocol",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_several_listeners() {
        let listeners =
            parse_listeners("http://127.0.0.1:8083, HTTPS://127.0.0.1:8443,https://:9443").unwrap();
        assert_eq!(listeners.len(), 3);
        assert_eq!(listeners[0].scheme, Scheme::Http);
        assert_eq!(listeners[1].scheme, Scheme::Https);
        assert_eq!(listeners[1].addr, "127.0.0.1:8443".parse().unwrap());
        assert!(listeners[2].addr.ip().is_unspecified());
    }

    #[test]
    fn the_advertised_listener_follows_kafka_connects_rule() {
        let listeners = parse_listeners("https://127.0.0.1:8443,http://127.0.0.1:8083").unwrap();
        assert_eq!(
            advertised_listener(&listeners, None).unwrap().scheme,
            Scheme::Http
        );
        assert_eq!(
            advertised_listener(&listeners, Some("HTTPS"))
                .unwrap()
                .addr
                .port(),
            8443
        );
        let only_https = parse_listeners("https://127.0.0.1:8443").unwrap();
        assert_eq!(
            advertised_listener(&only_https, None).unwrap().scheme,
            Scheme::Https
        );
        let error = advertised_listener(&only_https, Some("http")).unwrap_err();
        assert!(
            error.to_string().contains(REST_ADVERTISED_LISTENER),
            "{error}"
        );
        assert!(advertised_listener(&only_https, Some("ftp")).is_err());
    }

    #[test]
    fn bad_listeners_name_the_key() {
        for raw in [
            "",
            "tcp://127.0.0.1:1",
            "127.0.0.1:8083",
            "http://127.0.0.1:x",
        ] {
            let error = parse_listeners(raw).unwrap_err();
            assert!(error.to_string().contains(LISTENERS), "{raw}: {error}");
        }
    }
}
