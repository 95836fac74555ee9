//! Access tokens: verification of HS256 JSON Web Tokens (RFC 7519, compact
//! form) that a chat server's clients present, and the rooms they grant.
//!
//! # What [`verify_hs256`] guarantees
//!
//! It returns [`Claims`] only for a token that:
//!
//! - is at most [`MAX_JWT_LEN`] bytes;
//! - has exactly three segments separated by `.`, each unpadded base64url
//!   (RFC 7515 2) in canonical form;
//! - has a header that is a JSON object whose `alg` is exactly `"HS256"`.
//!   Every other algorithm is refused, `none` (an unsigned token) and the
//!   asymmetric ones included: accepting the algorithm a token names is the
//!   classic algorithm-confusion attack. A `typ`, if present, must be `JWT`
//!   (or `application/jwt`, compared without case, RFC 7515 4.1.9); a `crit`
//!   header is refused, since no extension is understood;
//! - carries an HMAC-SHA-256 of `header.payload` under the secret, compared
//!   in constant time (`hmac`'s `verify_slice`). The payload is not parsed
//!   before the signature verifies;
//! - has a payload that is a JSON object in which `sub`, if present, is a
//!   string, `rooms`, if present, is an array of strings, and `exp` and
//!   `nbf`, if present, are non-negative numbers (NumericDate, seconds since
//!   the epoch; a fraction is rounded up, which gives the same verdict as
//!   the exact comparison against a whole-second clock);
//! - is not expired: `exp`, if present, is after `now` (else
//!   [`Error::ExpiredJwt`]); and is already valid: `nbf`, if present, is at
//!   or before `now`. There is no leeway for clock skew: pass an adjusted
//!   `now` for that.
//!
//! A header or payload with the same member twice is refused for the
//! members read here, so no two JSON parsers can disagree on what a
//! signed token says. Other members (`iat`, `aud`, `kid`, ...) are ignored:
//! a server that needs `aud` or `iss` checks must do them itself.
//!
//! Every failure is [`Error::InvalidJwt`] with a text naming what was wrong
//! (never any part of the token or the secret, so it is safe to log), or
//! [`Error::ExpiredJwt`]. An empty secret is refused with
//! [`Error::InvalidConfig`], as it would let anyone mint tokens. The secret's
//! strength is the caller's business: RFC 7518 3.2 asks for at least 32
//! random bytes.
//!
//! # Rooms
//!
//! [`Claims::allows`] says whether a token grants a room, from its `rooms`
//! claim: `*` grants every room, any other entry grants the room it names,
//! or the rooms it matches as a NATS-style pattern (see
//! [`Pattern`]). A token without `rooms` grants nothing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::name::is_pattern;
use crate::Pattern;

/// Longest token accepted, in bytes (8 KiB); longer ones are refused before
/// any decoding.
pub const MAX_JWT_LEN: usize = 8 * 1024;

/// Longest room pattern considered by [`Claims::allows`].
const MAX_ROOM_PATTERN_LEN: usize = 1024;

/// The claims of a verified token that pushbus uses. Built by
/// [`verify_hs256`]; other claims in the token are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    /// The user (`sub`): the chat server uses it instead of any `user=`
    /// parameter.
    pub sub: Option<String>,
    /// The expiry (`exp`), seconds since the Unix epoch, rounded up.
    pub exp: Option<u64>,
    /// The rooms (`rooms`) the token may read and post to: names, NATS-style
    /// patterns, or `*` for all. Empty when the claim is absent.
    pub rooms: Vec<String>,
}

impl Claims {
    /// True when the token grants the room `name`: some entry of
    /// [`rooms`](Claims::rooms) is `*`, or equals `name`, or is a valid
    /// pattern that matches it.
    ///
    /// Patterns work on whole `.`-separated tokens, as everywhere in
    /// pushbus: `team.*` grants `team.a` (not `team.a.b`), `team.>` grants
    /// both. A `*` or `>` inside a token is not a wildcard: `team-*` is not
    /// a valid pattern, so it grants only a room literally named `team-*`,
    /// never `team-a`. An empty `name` is never granted.
    pub fn allows(&self, name: &str) -> bool {
        !name.is_empty()
            && self.rooms.iter().any(|entry| {
                entry == "*"
                    || entry == name
                    || (is_pattern(entry)
                        && Pattern::parse(entry, MAX_ROOM_PATTERN_LEN)
                            .is_ok_and(|pattern| pattern.matches(name)))
            })
    }
}

/// The header members read. `Value` fields accept any JSON, so that the
/// only errors serde reports are syntax and duplicates, whose texts never
/// quote the token; types are checked by hand below.
#[derive(Deserialize)]
struct RawHeader {
    alg: Option<Value>,
    typ: Option<Value>,
    crit: Option<Value>,
}

/// The payload members read; see [`RawHeader`].
#[derive(Deserialize)]
struct RawClaims {
    sub: Option<Value>,
    exp: Option<Value>,
    nbf: Option<Value>,
    rooms: Option<Value>,
}

fn invalid(why: impl Into<String>) -> Error {
    Error::InvalidJwt(why.into())
}

/// Decodes one base64url segment.
fn decode_segment(segment: &str, part: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| invalid(format!("the {part} is not unpadded base64url")))
}

/// Parses a segment's JSON, which must be one object.
fn parse_object<'a, T: Deserialize<'a>>(json: &'a [u8], part: &str) -> Result<T> {
    let starts_as_object = json
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{');
    if !starts_as_object {
        return Err(invalid(format!("the {part} is not a JSON object")));
    }
    serde_json::from_slice(json).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "repeats a member",
            _ => "is not valid JSON",
        };
        invalid(format!("the {part} {what} (at column {})", e.column()))
    })
}

fn check_header(json: &[u8]) -> Result<()> {
    let header: RawHeader = parse_object(json, "header")?;
    match header.alg {
        Some(Value::String(alg)) if alg == "HS256" => {}
        Some(Value::String(alg)) if alg.eq_ignore_ascii_case("none") => {
            return Err(invalid("alg none (an unsigned token) is refused"))
        }
        Some(_) => return Err(invalid("alg is not HS256, the only algorithm accepted")),
        None => return Err(invalid("the header has no alg")),
    }
    match header.typ {
        None => {}
        Some(Value::String(typ))
            if typ.eq_ignore_ascii_case("JWT") || typ.eq_ignore_ascii_case("application/jwt") => {}
        Some(_) => return Err(invalid("typ is not JWT")),
    }
    if header.crit.is_some() {
        return Err(invalid("the crit header is not supported"));
    }
    Ok(())
}

/// A NumericDate claim as whole seconds, rounded up.
fn numeric_date(value: Value, name: &str) -> Result<u64> {
    let Value::Number(number) = value else {
        return Err(invalid(format!("claim {name} is not a number")));
    };
    if let Some(seconds) = number.as_u64() {
        return Ok(seconds);
    }
    match number.as_f64() {
        // The cast saturates, so a date beyond u64 is the far future.
        Some(seconds) if seconds.is_finite() && seconds >= 0.0 => Ok(seconds.ceil() as u64),
        _ => Err(invalid(format!("claim {name} is negative"))),
    }
}

/// The claims and the `nbf` of a payload.
fn parse_claims(json: &[u8]) -> Result<(Claims, Option<u64>)> {
    let raw: RawClaims = parse_object(json, "payload")?;
    let sub = match raw.sub {
        None => None,
        Some(Value::String(sub)) => Some(sub),
        Some(_) => return Err(invalid("claim sub is not a string")),
    };
    let exp = raw.exp.map(|v| numeric_date(v, "exp")).transpose()?;
    let nbf = raw.nbf.map(|v| numeric_date(v, "nbf")).transpose()?;
    let rooms = match raw.rooms {
        None => Vec::new(),
        Some(Value::Array(entries)) => entries
            .into_iter()
            .map(|entry| match entry {
                Value::String(room) => Ok(room),
                _ => Err(invalid("claim rooms holds a non-string")),
            })
            .collect::<Result<Vec<String>>>()?,
        Some(_) => return Err(invalid("claim rooms is not an array")),
    };
    Ok((Claims { sub, exp, rooms }, nbf))
}

/// Verifies an HS256 JSON Web Token against `secret` at time
/// `now_unix_secs` (seconds since the Unix epoch), and returns its claims.
///
/// See the [module documentation](self) for every check, in order.
///
/// ```
/// use pushbus::jwt::verify_hs256;
///
/// // {"alg":"HS256","typ":"JWT"} . {"sub":"1234567890","name":"John Doe","iat":1516239022}
/// let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
///              eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.\
///              SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
/// let claims = verify_hs256(token, b"your-256-bit-secret", 1_700_000_000)?;
/// assert_eq!(claims.sub.as_deref(), Some("1234567890"));
/// assert!(claims.rooms.is_empty() && !claims.allows("lobby"));
/// assert!(verify_hs256(token, b"another secret", 1_700_000_000).is_err());
/// # Ok::<(), pushbus::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::ExpiredJwt`] when `exp` is at or before `now_unix_secs`;
/// [`Error::InvalidConfig`] for an empty secret; [`Error::InvalidJwt`] for
/// everything else, with a text that names the check that failed and quotes
/// nothing from the token.
pub fn verify_hs256(token: &str, secret: &[u8], now_unix_secs: u64) -> Result<Claims> {
    if secret.is_empty() {
        return Err(Error::InvalidConfig("the HS256 secret is empty".to_owned()));
    }
    if token.len() > MAX_JWT_LEN {
        return Err(invalid(format!("longer than {MAX_JWT_LEN} bytes")));
    }
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(invalid(format!(
            "{} segments instead of three separated by '.'",
            token.split('.').count()
        )));
    };

    check_header(&decode_segment(header, "header")?)?;

    let signature = decode_segment(signature, "signature")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)
        .map_err(|_| Error::InvalidConfig("the HS256 secret is unusable".to_owned()))?;
    mac.update(header.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| invalid("the signature does not verify"))?;

    let (claims, nbf) = parse_claims(&decode_segment(payload, "payload")?)?;
    if claims.exp.is_some_and(|exp| exp <= now_unix_secs) {
        return Err(Error::ExpiredJwt);
    }
    if nbf.is_some_and(|nbf| nbf > now_unix_secs) {
        return Err(invalid("not valid yet (nbf is in the future)"));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a test secret of thirty-two bytes";
    const NOW: u64 = 1_700_000_000;

    /// Computed independently with Python's hmac, hashlib and base64:
    /// header `{"alg":"HS256","typ":"JWT"}`, payload
    /// `{"sub":"alice","exp":4102444800,"rooms":["lobby","team.*"]}`, secret
    /// `pushbus-known-vector-secret`.
    const KNOWN_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
        eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMCwicm9vbXMiOlsibG9iYnkiLCJ0ZWFtLioiXX0.\
        4ugcDPDC9bMjfALrKd4nX-8yICLpPkevBmb3cXPya20";
    const KNOWN_SECRET: &[u8] = b"pushbus-known-vector-secret";

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Signs already-encoded segments.
    fn sign_segments(header: &str, payload: &str, secret: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{header}.{payload}").as_bytes());
        let signature = b64(&mac.finalize().into_bytes());
        format!("{header}.{payload}.{signature}")
    }

    fn mint_with(header: &str, payload: &str, secret: &[u8]) -> String {
        sign_segments(&b64(header.as_bytes()), &b64(payload.as_bytes()), secret)
    }

    fn mint(payload: &str) -> String {
        mint_with(r#"{"alg":"HS256","typ":"JWT"}"#, payload, SECRET)
    }

    fn invalid_text(result: Result<Claims>) -> String {
        match result {
            Err(Error::InvalidJwt(why)) => why,
            other => panic!("expected InvalidJwt, got {other:?}"),
        }
    }

    #[test]
    fn known_vector() {
        let claims = verify_hs256(KNOWN_TOKEN, KNOWN_SECRET, NOW).unwrap();
        assert_eq!(
            claims,
            Claims {
                sub: Some("alice".to_owned()),
                exp: Some(4_102_444_800),
                rooms: vec!["lobby".to_owned(), "team.*".to_owned()],
            }
        );
        assert!(claims.allows("lobby") && claims.allows("team.red"));
        assert!(!claims.allows("team") && !claims.allows("team.red.x"));
        // Our own minting agrees with the independent computation.
        let minted = mint_with(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            r#"{"sub":"alice","exp":4102444800,"rooms":["lobby","team.*"]}"#,
            KNOWN_SECRET,
        );
        assert_eq!(minted, KNOWN_TOKEN);
        assert_eq!(
            verify_hs256(KNOWN_TOKEN, KNOWN_SECRET, 4_102_444_800),
            Err(Error::ExpiredJwt)
        );
    }

    #[test]
    fn valid_token() {
        let token = mint(
            r#"{"sub":"bob","exp":1700000100,"nbf":1699999000,"iat":1,"rooms":["*"],"extra":{"x":[1,2]}}"#,
        );
        let claims = verify_hs256(&token, SECRET, NOW).unwrap();
        assert_eq!(claims.sub.as_deref(), Some("bob"));
        assert_eq!(claims.exp, Some(1_700_000_100));
        assert_eq!(claims.rooms, ["*"]);
        // Without any claim at all.
        assert_eq!(
            verify_hs256(&mint("{}"), SECRET, NOW),
            Ok(Claims::default())
        );
        // typ may be absent or spelled otherwise.
        for header in [
            r#"{"alg":"HS256"}"#,
            r#"{"typ":"jwt","alg":"HS256","kid":"k1"}"#,
            r#"{"alg":"HS256","typ":"application/JWT"}"#,
        ] {
            assert!(verify_hs256(&mint_with(header, "{}", SECRET), SECRET, NOW).is_ok());
        }
    }

    #[test]
    fn wrong_secret() {
        let token = mint(r#"{"sub":"bob"}"#);
        let why = invalid_text(verify_hs256(&token, b"another secret entirely", NOW));
        assert!(why.contains("signature"), "{why}");
        assert!(matches!(
            verify_hs256(&token, b"", NOW),
            Err(Error::InvalidConfig(_))
        ));
    }

    #[test]
    fn tampered_payload_or_signature() {
        let token = mint(r#"{"sub":"bob","rooms":["lobby"]}"#);
        let parts: Vec<&str> = token.split('.').collect();
        let forged = b64(br#"{"sub":"bob","rooms":["*"]}"#);
        let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
        assert!(invalid_text(verify_hs256(&tampered, SECRET, NOW)).contains("signature"));
        // A truncated or extended signature.
        let short = &token[..token.len() - 2];
        assert!(verify_hs256(short, SECRET, NOW).is_err());
        let long = format!("{}.{}.{}AAAA", parts[0], parts[1], parts[2]);
        assert!(verify_hs256(&long, SECRET, NOW).is_err());
        // An empty signature.
        let empty = format!("{}.{}.", parts[0], parts[1]);
        assert!(invalid_text(verify_hs256(&empty, SECRET, NOW)).contains("signature"));
    }

    #[test]
    fn alg_none_is_refused() {
        for alg in ["none", "None", "NONE"] {
            let header = b64(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#).as_bytes());
            let payload = b64(br#"{"sub":"mallory","rooms":["*"]}"#);
            // Unsigned, as such tokens are sent, and also "signed".
            let unsigned = format!("{header}.{payload}.");
            let why = invalid_text(verify_hs256(&unsigned, SECRET, NOW));
            assert!(why.contains("none"), "{why}");
            let signed = sign_segments(&header, &payload, SECRET);
            assert!(invalid_text(verify_hs256(&signed, SECRET, NOW)).contains("none"));
        }
    }

    #[test]
    fn other_algorithms_are_refused() {
        // Correctly HMAC-SHA-256-signed, but naming another algorithm:
        // refused on the header alone.
        for header in [
            r#"{"alg":"HS512","typ":"JWT"}"#,
            r#"{"alg":"HS384"}"#,
            r#"{"alg":"RS256"}"#,
            r#"{"alg":"hs256"}"#,
            r#"{"alg":["HS256"]}"#,
            r#"{"alg":null}"#,
            r#"{"typ":"JWT"}"#,
        ] {
            let token = mint_with(header, "{}", SECRET);
            let why = invalid_text(verify_hs256(&token, SECRET, NOW));
            assert!(why.contains("alg"), "{header}: {why}");
        }
        let bad_typ = mint_with(r#"{"alg":"HS256","typ":"JWS"}"#, "{}", SECRET);
        assert!(invalid_text(verify_hs256(&bad_typ, SECRET, NOW)).contains("typ"));
        let crit = mint_with(r#"{"alg":"HS256","crit":["exp"]}"#, "{}", SECRET);
        assert!(invalid_text(verify_hs256(&crit, SECRET, NOW)).contains("crit"));
    }

    #[test]
    fn missing_or_extra_segments() {
        let token = mint("{}");
        let parts: Vec<&str> = token.split('.').collect();
        for bad in [
            String::new(),
            parts[0].to_owned(),
            format!("{}.{}", parts[0], parts[1]),
            format!("{token}.{}", parts[2]),
            format!("{token}."),
            "..".to_owned(),
        ] {
            assert!(verify_hs256(&bad, SECRET, NOW).is_err(), "{bad:?}");
        }
        let why = invalid_text(verify_hs256(parts[0], SECRET, NOW));
        assert!(why.contains("segments"), "{why}");
    }

    #[test]
    fn bad_base64() {
        let token = mint("{}");
        let parts: Vec<&str> = token.split('.').collect();
        // Padding, the standard alphabet, and stray characters.
        let padded = format!("{}=.{}.{}", parts[0], parts[1], parts[2]);
        assert!(invalid_text(verify_hs256(&padded, SECRET, NOW)).contains("header"));
        let bad_signature = format!("{}.{}.{}+", parts[0], parts[1], &parts[2][1..]);
        assert!(invalid_text(verify_hs256(&bad_signature, SECRET, NOW)).contains("signature"));
        // A payload segment that is signed but not base64url.
        let header = b64(br#"{"alg":"HS256"}"#);
        let signed = sign_segments(&header, "e30!", SECRET);
        let why = invalid_text(verify_hs256(&signed, SECRET, NOW));
        assert!(why.contains("payload") && why.contains("base64"), "{why}");
    }

    #[test]
    fn bad_json() {
        for (header, payload, part) in [
            (r#"{"alg":"HS256""#, "{}", "header"),
            (r#"["HS256"]"#, "{}", "header"),
            (r#"{"alg":"HS256","alg":"none"}"#, "{}", "header"),
            (r#"{"alg":"HS256"}"#, "{", "payload"),
            (r#"{"alg":"HS256"}"#, "[]", "payload"),
            (r#"{"alg":"HS256"}"#, r#""sub""#, "payload"),
            (r#"{"alg":"HS256"}"#, r#"{"sub":"a"} x"#, "payload"),
            (r#"{"alg":"HS256"}"#, r#"{"sub":"a","sub":"b"}"#, "payload"),
        ] {
            let token = mint_with(header, payload, SECRET);
            let why = invalid_text(verify_hs256(&token, SECRET, NOW));
            assert!(why.contains(part), "{header} {payload}: {why}");
        }
        // Ill-typed claims.
        for (payload, claim) in [
            (r#"{"sub":7}"#, "sub"),
            (r#"{"exp":"soon"}"#, "exp"),
            (r#"{"exp":-1}"#, "exp"),
            (r#"{"nbf":true}"#, "nbf"),
            (r#"{"rooms":"lobby"}"#, "rooms"),
            (r#"{"rooms":["lobby",3]}"#, "rooms"),
        ] {
            let why = invalid_text(verify_hs256(&mint(payload), SECRET, NOW));
            assert!(why.contains(claim), "{payload}: {why}");
        }
    }

    #[test]
    fn expiry() {
        let at = |exp: &str| verify_hs256(&mint(&format!(r#"{{"exp":{exp}}}"#)), SECRET, NOW);
        assert_eq!(at("1699999999"), Err(Error::ExpiredJwt));
        assert_eq!(at("1700000000"), Err(Error::ExpiredJwt)); // exp must be after now
        assert!(at("1700000001").is_ok());
        // Fractions: valid while now < exp.
        assert!(at("1700000000.5").is_ok());
        assert_eq!(at("1699999999.5"), Err(Error::ExpiredJwt));
        assert!(at("1e30").is_ok());
    }

    #[test]
    fn not_before() {
        let at = |nbf: &str| verify_hs256(&mint(&format!(r#"{{"nbf":{nbf}}}"#)), SECRET, NOW);
        assert!(invalid_text(at("1700000001")).contains("nbf"));
        assert!(invalid_text(at("1700000000.5")).contains("nbf"));
        assert!(at("1700000000").is_ok());
        assert!(at("0").is_ok());
    }

    #[test]
    fn oversize_token() {
        let padding = "x".repeat(MAX_JWT_LEN);
        let token = mint(&format!(r#"{{"pad":"{padding}"}}"#));
        assert!(token.len() > MAX_JWT_LEN);
        assert!(invalid_text(verify_hs256(&token, SECRET, NOW)).contains("longer"));
        // Just under the limit is fine.
        let mut fill = 0;
        loop {
            let token = mint(&format!(r#"{{"pad":"{}"}}"#, "x".repeat(fill + 1)));
            if token.len() > MAX_JWT_LEN {
                break;
            }
            fill += 1;
        }
        let token = mint(&format!(r#"{{"pad":"{}"}}"#, "x".repeat(fill)));
        assert!(token.len() <= MAX_JWT_LEN);
        assert!(verify_hs256(&token, SECRET, NOW).is_ok());
    }

    #[test]
    fn errors_never_quote_the_token_or_secret() {
        let secret = b"s3cr3t-value-that-must-not-leak";
        let payloads = [
            r#"{"sub":"leak-me-1","exp":1}"#,
            r#"{"sub":["leak-me-2"]}"#,
            r#"{"exp":"leak-me-3"}"#,
            r#"{"rooms":"leak-me-4"}"#,
            r#"{"leak-me-5":1,"leak-me-5":2}"#,
            r#"{"sub":"leak-me-6","sub":"x"}"#,
            r#""leak-me-7""#,
            r#"{"leak-me-8" 1}"#,
        ];
        for payload in payloads {
            let token = mint_with(r#"{"alg":"HS256"}"#, payload, secret);
            let tampered = format!("{token}x");
            for result in [
                verify_hs256(&token, secret, NOW),
                verify_hs256(&tampered, secret, NOW),
            ] {
                let Err(error) = result else { continue };
                let text = error.to_string();
                assert!(!text.contains("leak-me"), "{text}");
                assert!(!text.contains("s3cr3t"), "{text}");
                assert!(!text.contains(&token[..10]), "{text}");
            }
        }
        let header = mint_with(r#"{"alg":"leak-me-alg","typ":"leak-me-typ"}"#, "{}", secret);
        let text = verify_hs256(&header, secret, NOW).unwrap_err().to_string();
        assert!(!text.contains("leak-me"), "{text}");
    }

    #[test]
    fn rooms_matching() {
        let claims = |rooms: &[&str]| Claims {
            rooms: rooms.iter().map(|r| (*r).to_owned()).collect(),
            ..Claims::default()
        };
        let all = claims(&["*"]);
        assert!(all.allows("lobby") && all.allows("team.a.b"));
        assert!(!all.allows(""));

        let exact = claims(&["lobby", "team-a"]);
        assert!(exact.allows("lobby") && exact.allows("team-a"));
        assert!(!exact.allows("lobby2") && !exact.allows("team-b"));

        // `*` is a whole token, never a glob inside one.
        let glob = claims(&["team-*"]);
        assert!(!glob.allows("team-a"));
        assert!(glob.allows("team-*")); // only the literal name

        let patterns = claims(&["team.*", "ops.>"]);
        assert!(patterns.allows("team.a") && !patterns.allows("team.a.b"));
        assert!(!patterns.allows("team"));
        assert!(patterns.allows("ops.x") && patterns.allows("ops.x.y"));
        assert!(!patterns.allows("ops"));

        // Invalid patterns grant nothing but their literal text.
        let broken = claims(&["a.>.b", ">x"]);
        assert!(!broken.allows("a.c.b") && !broken.allows(">y"));

        assert!(!Claims::default().allows("lobby"));
    }
}
