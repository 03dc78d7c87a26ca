//! NTLM on the server side of a Windows login (MS-NLMP): reading the client's
//! NEGOTIATE_MESSAGE (2.2.1.1), writing the CHALLENGE_MESSAGE (2.2.1.2), reading the
//! AUTHENTICATE_MESSAGE (2.2.1.3), and checking its NTLMv2 response against an account's
//! password (3.3.2: NTOWFv2, then NTProofStr by HMAC-MD5).
//!
//! Owns the message bytes and the NTLMv2 computation; which accounts exist and their
//! passwords is the engine's ([`NtlmProof::proves`] is all it needs). Only NTLMv2 is
//! accepted: an NTLMv1 or LM response (24 bytes) proves nothing here. Not checked: the
//! MIC and the client's timestamp, which guard against tampering and replay on a real
//! network; each login gets a fresh server challenge, so a response cannot be replayed
//! into another session anyway.

use std::fmt;

use hmac::{Hmac, Mac};
use md4::{Digest, Md4};
use md5::Md5;

use super::cursor::{Cursor, decode_utf16};
use super::error::ProtocolError;

/// Every NTLM message starts with it (MS-NLMP 2.2.1).
const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// NegotiateFlags bits (MS-NLMP 2.2.2.5) this server may grant.
mod flags {
    pub(super) const UNICODE: u32 = 1 << 0;
    pub(super) const REQUEST_TARGET: u32 = 1 << 2;
    pub(super) const SIGN: u32 = 1 << 4;
    pub(super) const SEAL: u32 = 1 << 5;
    pub(super) const NTLM: u32 = 1 << 9;
    pub(super) const ALWAYS_SIGN: u32 = 1 << 15;
    pub(super) const TARGET_TYPE_SERVER: u32 = 1 << 17;
    pub(super) const EXTENDED_SESSIONSECURITY: u32 = 1 << 19;
    pub(super) const TARGET_INFO: u32 = 1 << 23;
    pub(super) const VERSION: u32 = 1 << 25;
    pub(super) const N128: u32 = 1 << 29;
    pub(super) const KEY_EXCH: u32 = 1 << 30;
    pub(super) const N56: u32 = 1 << 31;
    /// What the server echoes when the client asks for it (MS-NLMP 3.2.5.1.1).
    pub(super) const GRANTED: u32 = UNICODE
        | REQUEST_TARGET
        | SIGN
        | SEAL
        | NTLM
        | ALWAYS_SIGN
        | EXTENDED_SESSIONSECURITY
        | VERSION
        | N128
        | KEY_EXCH
        | N56;
}

/// AV_PAIR ids of the CHALLENGE_MESSAGE's TargetInfo (MS-NLMP 2.2.2.1).
mod av {
    pub(super) const EOL: u16 = 0;
    pub(super) const NB_COMPUTER_NAME: u16 = 1;
    pub(super) const NB_DOMAIN_NAME: u16 = 2;
    pub(super) const DNS_COMPUTER_NAME: u16 = 3;
    pub(super) const TIMESTAMP: u16 = 7;
}

/// The CHALLENGE_MESSAGE's fixed part: up to and with the Version field.
const CHALLENGE_HEADER_LEN: usize = 56;

/// The NTLMv2 response is NTProofStr (16 bytes) and a client blob; 24 bytes is NTLMv1.
const NT_PROOF_LEN: usize = 16;

/// The NegotiateFlags of the client's NEGOTIATE_MESSAGE.
pub(crate) fn negotiate_flags(message: &[u8]) -> Result<u32, ProtocolError> {
    let mut cursor = header(message, 1, "NTLM NEGOTIATE_MESSAGE")?;
    let flags = cursor.u32_le("NTLM NegotiateFlags")?;
    match flags & flags::UNICODE {
        0 => Err(invalid(
            "NTLM NEGOTIATE_MESSAGE",
            "the client does not offer Unicode",
        )),
        _ => Ok(flags),
    }
}

/// A fresh, random ServerChallenge, the 64-bit nonce of MS-NLMP 3.2.5.1.1.
pub(crate) fn server_challenge() -> Result<[u8; 8], ProtocolError> {
    let mut nonce = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
        .map_err(|_| invalid("SSPI", "no random bytes for the NTLM challenge"))?;
    Ok(nonce)
}

/// The CHALLENGE_MESSAGE for a client that sent `client_flags`: `server_challenge`, the
/// flags granted, the server `computer` as target (a stand-alone server, so its name is
/// the domain name too, MS-NLMP 2.2.2.1) and the time now.
pub(crate) fn challenge(client_flags: u32, computer: &str, server_challenge: [u8; 8]) -> Vec<u8> {
    challenge_at(client_flags, computer, server_challenge, filetime_now())
}

/// Now as a FILETIME: 100-nanosecond intervals since 1601-01-01 (MS-DTYP 2.3.3).
fn filetime_now() -> u64 {
    const UNIX_EPOCH_AS_FILETIME: u64 = 116_444_736_000_000_000;
    let since_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    UNIX_EPOCH_AS_FILETIME + u64::try_from(since_unix.as_nanos() / 100).unwrap_or(0)
}

/// [`challenge`] with `filetime` as MsvAvTimestamp.
fn challenge_at(
    client_flags: u32,
    computer: &str,
    server_challenge: [u8; 8],
    filetime: u64,
) -> Vec<u8> {
    let granted = (client_flags & flags::GRANTED) | flags::TARGET_INFO | flags::TARGET_TYPE_SERVER;
    let target_name = utf16le(computer);
    let target_info = target_info(computer, filetime);
    let name_offset = CHALLENGE_HEADER_LEN;
    let info_offset = name_offset + target_name.len();
    let mut out = Vec::with_capacity(info_offset + target_info.len());
    out.extend_from_slice(SIGNATURE);
    out.extend_from_slice(&2u32.to_le_bytes());
    put_fields(&mut out, target_name.len(), name_offset);
    out.extend_from_slice(&granted.to_le_bytes());
    out.extend_from_slice(&server_challenge);
    out.extend_from_slice(&[0; 8]);
    put_fields(&mut out, target_info.len(), info_offset);
    out.extend_from_slice(&version(granted));
    out.extend_from_slice(&target_name);
    out.extend_from_slice(&target_info);
    out
}

/// The VERSION structure (MS-NLMP 2.2.2.10): Windows Server 2019 (10.0, build 17763),
/// NTLMSSP_REVISION_W2K3; all zero unless the client asked for it.
fn version(granted: u32) -> [u8; 8] {
    match granted & flags::VERSION {
        0 => [0; 8],
        _ => [10, 0, 0x4B, 0x45, 0, 0, 0, 0x0F],
    }
}

/// The AV_PAIRs of the target: NetBIOS and DNS names of the server, the timestamp, EOL.
fn target_info(computer: &str, filetime: u64) -> Vec<u8> {
    let name = utf16le(computer);
    let mut out = Vec::new();
    for id in [
        av::NB_DOMAIN_NAME,
        av::NB_COMPUTER_NAME,
        av::DNS_COMPUTER_NAME,
    ] {
        put_av_pair(&mut out, id, &name);
    }
    put_av_pair(&mut out, av::TIMESTAMP, &filetime.to_le_bytes());
    put_av_pair(&mut out, av::EOL, &[]);
    out
}

fn put_av_pair(out: &mut Vec<u8>, id: u16, value: &[u8]) {
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(value);
}

/// A payload field's Len, MaxLen and BufferOffset (MS-NLMP 2.2.1).
fn put_fields(out: &mut Vec<u8>, len: usize, offset: usize) {
    let len = u16::try_from(len).unwrap_or(u16::MAX).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&len);
    out.extend_from_slice(&u32::try_from(offset).unwrap_or(u32::MAX).to_le_bytes());
}

/// What an AUTHENTICATE_MESSAGE claims, with what checking it needs: the account, the
/// challenge this server sent and the client's NTLMv2 response. It holds no password.
#[derive(Clone, PartialEq, Eq)]
pub struct NtlmProof {
    domain: String,
    user: String,
    server_challenge: [u8; 8],
    nt_response: Vec<u8>,
}

/// Shows the account only.
impl fmt::Debug for NtlmProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NtlmProof")
            .field("account", &self.account())
            .finish_non_exhaustive()
    }
}

impl NtlmProof {
    /// Reads the client's AUTHENTICATE_MESSAGE, answering `server_challenge`.
    pub(crate) fn decode(message: &[u8], server_challenge: [u8; 8]) -> Result<Self, ProtocolError> {
        const WHAT: &str = "NTLM AUTHENTICATE_MESSAGE";
        header(message, 3, WHAT)?;
        let field = |at: usize| payload_field(message, at, WHAT);
        let nt_response = field(20)?.to_vec();
        if nt_response.len() <= NT_PROOF_LEN + 8 {
            return Err(invalid(WHAT, "the response is not NTLMv2"));
        }
        Ok(NtlmProof {
            domain: decode_utf16(field(28)?, WHAT)?,
            user: decode_utf16(field(36)?, WHAT)?,
            server_challenge,
            nt_response,
        })
    }

    /// `DOMAIN\user`, as the client named the account.
    pub fn account(&self) -> String {
        format!("{}\\{}", self.domain, self.user)
    }

    /// Whether the response was computed from `password` (MS-NLMP 3.3.2): NTProofStr is
    /// HMAC_MD5(NTOWFv2(password, user, domain), ServerChallenge || temp).
    pub fn proves(&self, password: &str) -> bool {
        let (proof, temp) = self.nt_response.split_at(NT_PROOF_LEN);
        let key = ntowfv2(password, &self.user, &self.domain);
        let mut mac = hmac_md5(&key);
        mac.update(&self.server_challenge);
        mac.update(temp);
        mac.verify_slice(proof).is_ok()
    }
}

/// NTOWFv2 (MS-NLMP 3.3.2): HMAC_MD5(MD4(UNICODE(password)),
/// UNICODE(Uppercase(user) || domain)).
fn ntowfv2(password: &str, user: &str, domain: &str) -> [u8; 16] {
    let nt_hash = Md4::digest(utf16le(password));
    let mut mac = hmac_md5(&nt_hash);
    mac.update(&utf16le(&(user.to_uppercase() + domain)));
    mac.finalize().into_bytes().into()
}

fn hmac_md5(key: &[u8]) -> Hmac<Md5> {
    <Hmac<Md5> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length")
}

fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Checks the signature and MessageType, and returns a cursor after them.
fn header<'a>(
    message: &'a [u8],
    message_type: u32,
    what: &'static str,
) -> Result<Cursor<'a>, ProtocolError> {
    let mut cursor = Cursor::new(message);
    if cursor.array::<8>(what)? != *SIGNATURE {
        return Err(invalid(what, "the NTLMSSP signature is missing"));
    }
    match cursor.u32_le(what)? {
        found if found == message_type => Ok(cursor),
        found => Err(invalid(what, format!("the MessageType is {found}"))),
    }
}

/// The bytes a Len/MaxLen/BufferOffset field at `at` points to.
fn payload_field<'a>(
    message: &'a [u8],
    at: usize,
    what: &'static str,
) -> Result<&'a [u8], ProtocolError> {
    let mut cursor = Cursor::new(message.get(at..).unwrap_or_default());
    let len = usize::from(cursor.u16_le(what)?);
    cursor.u16_le(what)?;
    let offset = usize::try_from(cursor.u32_le(what)?).unwrap_or(usize::MAX);
    message
        .get(offset..offset.saturating_add(len))
        .ok_or(ProtocolError::Truncated { what })
}

fn invalid(what: &'static str, detail: impl Into<String>) -> ProtocolError {
    ProtocolError::invalid(what, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use winauth::NextBytes;

    /// MS-NLMP 4.2.4.1.1: NTOWFv2("Password", "User", "Domain").
    #[test]
    fn ntowfv2_matches_the_specifications_test_vector() {
        assert_eq!(
            ntowfv2("Password", "User", "Domain"),
            [
                0x0c, 0x86, 0x8a, 0x40, 0x3b, 0xfd, 0x7a, 0x93, 0xa3, 0x00, 0x1e, 0xf2, 0x2e, 0xf0,
                0x2e, 0x3f
            ]
        );
    }

    /// MS-NLMP 4.2.4.2.2: the NTLMv2 response to server challenge 0123456789abcdef with
    /// client challenge aa…aa, time 0 and the AV pairs of 4.2.4 (NetBIOS domain
    /// "Domain", NetBIOS server "Server") has NTProofStr 68cd0ab851e51c96aabc927bebef6a1c.
    #[test]
    fn ntproofstr_matches_the_specifications_test_vector() {
        let mut temp = vec![1, 1, 0, 0, 0, 0, 0, 0];
        temp.extend_from_slice(&[0; 8]);
        temp.extend_from_slice(&[0xaa; 8]);
        temp.extend_from_slice(&[0; 4]);
        put_av_pair(&mut temp, av::NB_DOMAIN_NAME, &utf16le("Domain"));
        put_av_pair(&mut temp, av::NB_COMPUTER_NAME, &utf16le("Server"));
        put_av_pair(&mut temp, av::EOL, &[]);
        temp.extend_from_slice(&[0; 4]);
        let mut nt_response = vec![
            0x68, 0xcd, 0x0a, 0xb8, 0x51, 0xe5, 0x1c, 0x96, 0xaa, 0xbc, 0x92, 0x7b, 0xeb, 0xef,
            0x6a, 0x1c,
        ];
        nt_response.extend_from_slice(&temp);
        let proof = NtlmProof {
            domain: "Domain".into(),
            user: "User".into(),
            server_challenge: [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef],
            nt_response,
        };
        assert!(proof.proves("Password"));
        assert!(!proof.proves("password"));
    }

    /// MS-NLMP 2.2.1.2: a 56-byte header (with Version), then TargetName, then the
    /// TargetInfo AV pairs (2.2.2.1), each located by its Len/MaxLen/BufferOffset.
    #[test]
    fn the_challenge_message_is_laid_out_as_specified() {
        let asked = flags::UNICODE | flags::NTLM | flags::VERSION | (1 << 12);
        let time = 0x01D9_0000_0000_0001u64;
        let message = challenge_at(asked, "SQL", [1, 2, 3, 4, 5, 6, 7, 8], time);
        let name = [b'S', 0, b'Q', 0, b'L', 0];
        let granted = flags::UNICODE
            | flags::NTLM
            | flags::VERSION
            | flags::TARGET_INFO
            | flags::TARGET_TYPE_SERVER;
        let mut expected = b"NTLMSSP\0".to_vec();
        expected.extend_from_slice(&[2, 0, 0, 0]);
        expected.extend_from_slice(&[6, 0, 6, 0, 56, 0, 0, 0]);
        expected.extend_from_slice(&granted.to_le_bytes());
        expected.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        expected.extend_from_slice(&[0; 8]);
        expected.extend_from_slice(&[46, 0, 46, 0, 62, 0, 0, 0]);
        expected.extend_from_slice(&[10, 0, 0x4B, 0x45, 0, 0, 0, 0x0F]);
        expected.extend_from_slice(&name);
        for id in [2u8, 1, 3] {
            expected.extend_from_slice(&[id, 0, 6, 0]);
            expected.extend_from_slice(&name);
        }
        expected.extend_from_slice(&[7, 0, 8, 0]);
        expected.extend_from_slice(&time.to_le_bytes());
        expected.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(message, expected);
    }

    /// The three messages with the `winauth` crate's NTLMv2 client (the one tiberius
    /// uses for explicit Windows credentials).
    fn exchange(password: &str) -> NtlmProof {
        let mut client = winauth::NtlmV2ClientBuilder::new()
            .target_spn("MSSQLSvc/sql-dal.contoso.com:1433")
            .build(Some("CONTOSO"), "pcdr-svc", password);
        let negotiate = client.next_bytes(None).unwrap().unwrap();
        let flags = negotiate_flags(&negotiate).unwrap();
        let server_challenge = [7, 1, 2, 3, 4, 5, 6, 8];
        let message = challenge(flags, "SQL-DAL", server_challenge);
        let authenticate = client.next_bytes(Some(&message)).unwrap().unwrap();
        NtlmProof::decode(&authenticate, server_challenge).unwrap()
    }

    #[test]
    fn a_winauth_client_proves_the_right_password_only() {
        let proof = exchange("Dom@in-Pa55");
        assert_eq!(proof.account(), r"CONTOSO\pcdr-svc");
        assert!(proof.proves("Dom@in-Pa55"));
        assert!(!proof.proves("Dom@in-Pa56"));
        assert!(!exchange("wrong").proves("Dom@in-Pa55"));
    }

    #[test]
    fn the_proof_does_not_answer_another_challenge() {
        let mut proof = exchange("Dom@in-Pa55");
        proof.server_challenge[0] ^= 1;
        assert!(!proof.proves("Dom@in-Pa55"));
    }

    #[test]
    fn the_debug_form_shows_the_account_only() {
        let shown = format!("{:?}", exchange("Dom@in-Pa55"));
        assert_eq!(shown, r#"NtlmProof { account: "CONTOSO\\pcdr-svc", .. }"#);
    }

    #[test]
    fn malformed_messages_are_refused() {
        assert!(negotiate_flags(b"NTLMSSP\0\x02\0\0\0\x01\0\0\0").is_err());
        assert!(negotiate_flags(b"NTLMSSP\0\x01\0\0\0\x00\0\0\0").is_err());
        assert!(negotiate_flags(b"NTLMSPP\0\x01\0\0\0\x01\0\0\0").is_err());
        assert!(NtlmProof::decode(b"NTLMSSP\0\x03\0\0\0", [0; 8]).is_err());
        let mut v1 = b"NTLMSSP\0\x03\0\0\0".to_vec();
        v1.resize(88, 0);
        v1[20..28].copy_from_slice(&[24, 0, 24, 0, 64, 0, 0, 0]);
        assert!(NtlmProof::decode(&v1, [0; 8]).is_err());
    }
}
