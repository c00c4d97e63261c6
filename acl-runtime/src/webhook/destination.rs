//! Where outbound webhooks may go.
//!
//! A webhook endpoint's URL is typed in by a customer, so a sender that POSTs wherever
//! it points is a server-side request forgery waiting to happen: `http://169.254.169.254/`
//! (cloud metadata, credentials), `http://127.0.0.1:6379/` (the service's own Redis),
//! `http://10.0.0.5/admin`. By default the [`Sender`](super::Sender) refuses URLs that
//! are not `http`/`https` and destinations whose address (after DNS resolution, on every
//! attempt) is loopback, private, link-local, shared, multicast, documentation or
//! otherwise not on the public internet. [`Destinations::Any`] turns that off for tests
//! and internal deployments.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Which addresses outbound webhooks may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Destinations {
    /// Public internet addresses only (the default).
    #[default]
    Public,
    /// Any address, private and loopback included (tests, internal services).
    Any,
}

impl Destinations {
    /// Whether `ip` may be reached.
    pub fn allows(self, ip: IpAddr) -> bool {
        self == Destinations::Any || is_public(ip)
    }
}

/// Whether `ip` is an address on the public internet. Denied: unspecified, loopback,
/// private (RFC 1918, IPv6 unique local), shared (100.64/10), link-local (169.254/16,
/// which holds the cloud metadata services, and fe80::/10), benchmarking, documentation,
/// multicast, broadcast and reserved ranges; IPv4 addresses inside IPv6 (mapped,
/// compatible, NAT64) are judged as IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                  // "this network"
        || a == 10                            // private
        || a == 127                           // loopback
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254)             // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0)     // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)     // documentation
        || (a == 192 && b == 88 && c == 99)   // 6to4 relay anycast
        || (a == 192 && b == 168)             // private
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100)  // documentation
        || (a == 203 && b == 0 && c == 113)   // documentation
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::/96) carry an IPv4.
    let embedded = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6] == [0; 6] || (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4]) {
        return is_public_v4(embedded);
    }
    !((s[0] & 0xfe00) == 0xfc00            // unique local (fd00:ec2::254 is AWS metadata)
        || (s[0] & 0xffc0) == 0xfe80       // link-local
        || (s[0] & 0xffc0) == 0xfec0       // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00       // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments (Teredo, ...)
        || s[0] == 0x2002                  // 6to4: an IPv4 inside, routed by relays
        || (s[0] == 0x0100 && s[1..4] == [0; 3])) // discard-only
}

/// Checks an endpoint URL before it is registered: `http` or `https`, with a host; an
/// IP literal must be allowed by `destinations`.
pub fn check_url(url: &str, destinations: Destinations) -> Result<url::Url, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "`{}` URLs are refused: a webhook endpoint is http or https",
            parsed.scheme()
        ));
    }
    match parsed.host() {
        None => return Err(format!("`{url}` has no host")),
        Some(url::Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip), destinations)?,
        Some(url::Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip), destinations)?,
        Some(url::Host::Domain(_)) => {}
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("credentials in a webhook URL are refused: they would be sent in clear in every log line".into());
    }
    Ok(parsed)
}

fn check_ip(ip: IpAddr, destinations: Destinations) -> Result<(), String> {
    if destinations.allows(ip) {
        Ok(())
    } else {
        Err(format!(
            "{ip} is not a public address (loopback, private, link-local or reserved); \
             allow it with Sender::destinations(Destinations::Any)"
        ))
    }
}

/// Resolves the URL's host and checks every address it resolves to: one denied address
/// refuses the attempt (a name that resolves to both a public and a private address is
/// how DNS rebinding starts).
pub async fn check_resolved(url: &url::Url, destinations: Destinations) -> Result<(), String> {
    if destinations == Destinations::Any {
        return Ok(());
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match url.host() {
        None => return Err("the URL has no host".into()),
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(url::Host::Domain(name)) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|e| format!("cannot resolve `{name}`: {e}"))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err("the host resolves to no address".into());
    }
    for addr in addrs {
        check_ip(addr.ip(), destinations)?;
    }
    Ok(())
}

/// The transport for outbound webhooks: redirects are not followed (a 3xx is the
/// answer), and every address a name resolves to is checked against `destinations` when
/// the connection is made, so a name cannot resolve to a public address for the check
/// and a private one for the connection.
pub fn transport(
    destinations: Destinations,
) -> Result<crate::transport::ReqwestTransport, crate::transport::TransportError> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(std::sync::Arc::new(FilteringResolver(destinations)))
        .build()
        .map_err(crate::transport::reqwest_error)?;
    Ok(crate::transport::ReqwestTransport::new(client))
}

/// A reqwest resolver that drops denied addresses, so the address connected to is the
/// address checked (no window between the sender's check and the connection).
#[derive(Debug, Clone, Copy)]
struct FilteringResolver(Destinations);

impl reqwest::dns::Resolve for FilteringResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let destinations = self.0;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|a| destinations.allows(a.ip()))
                .collect();
            if allowed.is_empty() || allowed.len() != addrs.len() {
                let e: Box<dyn std::error::Error + Send + Sync> = format!(
                    "`{}` resolves to an address that is not public; refused",
                    name.as_str()
                )
                .into();
                return Err(e);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_denied() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "fc00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::7f00:1",
            "2001:db8::1",
            "2002:7f00:1::",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_public(ip), "{ip} allowed");
            assert!(Destinations::Any.allows(ip));
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_public(ip), "{ip} denied");
        }
    }

    #[test]
    fn endpoint_urls_must_be_http_with_a_public_literal() {
        let p = Destinations::Public;
        for bad in [
            "not a url",
            "file:///etc/passwd",
            "ftp://example.com/",
            "gopher://example.com/",
            "http://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1:6379/",
            "http://[::1]/",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://user:pw@example.com/",
        ] {
            assert!(check_url(bad, p).is_err(), "{bad} accepted");
        }
        assert!(check_url("https://hooks.example.com/in", p).is_ok());
        assert!(check_url("http://127.0.0.1:8080/", Destinations::Any).is_ok());
    }

    #[tokio::test]
    async fn names_are_checked_after_resolution() {
        let url = url::Url::parse("http://localhost:9/").unwrap();
        let e = check_resolved(&url, Destinations::Public)
            .await
            .unwrap_err();
        assert!(e.contains("not a public address"), "{e}");
        assert!(check_resolved(&url, Destinations::Any).await.is_ok());
    }
}
