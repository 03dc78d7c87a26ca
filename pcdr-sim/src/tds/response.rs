//! Token streams the server sends: the login reply, the reply to a batch or an
//! RPC built from the engine's [`Response`], and the small fixed replies
//! (ATTENTION acknowledgement, request errors).
//!
//! Owns which tokens a reply holds and their DONE flags; the token bytes
//! themselves come from `token` and `rows`.

use tracing::error;

use super::engine::{Response, ResultSet, ServerMessage, StatementResult};
use super::packet::DEFAULT_PACKET_SIZE;
use super::rows::put_result_set;
use super::token::{
    DoneKind, MessageKind, cur_cmd, done_status, put_done, put_env_collation, put_env_database,
    put_env_packet_size, put_login_ack, put_message, put_return_status,
};

/// The database a session is in before the login reply changes it.
const LOGIN_DATABASE: &str = "master";
/// Number of the error sent when the engine built a result set that cannot be encoded.
const ENGINE_RESULT_ERROR: u32 = 50000;
/// Number of the error sent for a request the server could not decode
/// ("The incoming tabular data stream (TDS) protocol stream is incorrect").
const PROTOCOL_STREAM_ERROR: u32 = 4002;
/// Severity of request errors.
const CLASS_USER_ERROR: u8 = 16;

/// Whether a reply answers a SQL batch or an RPC; they end statements differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestKind {
    /// One DONE per statement, MORE on all but the last.
    Batch,
    /// DONEINPROC per statement, then RETURNSTATUS and DONEPROC.
    Rpc,
}

/// The reply to an accepted login: ENVCHANGE database, ENVCHANGE collation,
/// LOGINACK, ENVCHANGE packet size, DONE.
pub(crate) fn login_accepted(database: &str, packet_size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    put_env_database(&mut out, database, LOGIN_DATABASE);
    put_env_collation(&mut out);
    put_login_ack(&mut out);
    put_env_packet_size(&mut out, packet_size, DEFAULT_PACKET_SIZE);
    put_done(&mut out, DoneKind::Done, 0, cur_cmd::NONE, 0);
    out
}

/// ERROR, then DONE with the ERROR bit: a refused login or a rejected request.
pub(crate) fn error_reply(message: &ServerMessage, server_name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    put_message(&mut out, MessageKind::Error, message, server_name);
    put_done(
        &mut out,
        DoneKind::Done,
        done_status::ERROR,
        cur_cmd::NONE,
        0,
    );
    out
}

/// The error reported for a request the server could not decode.
pub(crate) fn malformed_request(detail: &str) -> ServerMessage {
    ServerMessage::new(
        PROTOCOL_STREAM_ERROR,
        CLASS_USER_ERROR,
        format!("The incoming tabular data stream (TDS) protocol stream is incorrect: {detail}."),
    )
}

/// DONE with the ERROR bit: the answer to a message the client marked IGNORE.
pub(crate) fn ignored_ack() -> Vec<u8> {
    let mut out = Vec::new();
    put_done(
        &mut out,
        DoneKind::Done,
        done_status::ERROR,
        cur_cmd::NONE,
        0,
    );
    out
}

/// DONE with the ATTN bit, acknowledging a cancel.
pub(crate) fn attention_ack() -> Vec<u8> {
    let mut out = Vec::new();
    put_done(
        &mut out,
        DoneKind::Done,
        done_status::ATTN,
        cur_cmd::NONE,
        0,
    );
    out
}

/// The reply to a batch or an RPC.
pub(crate) fn encode_response(
    response: &Response,
    kind: RequestKind,
    server_name: &str,
) -> Vec<u8> {
    let done_kind = match kind {
        RequestKind::Batch => DoneKind::Done,
        RequestKind::Rpc => DoneKind::InProc,
    };
    let mut dones_left = response
        .results
        .iter()
        .filter(|result| ends_statement(result))
        .count();
    let no_statements = dones_left == 0;
    let mut any_failed = false;
    let mut out = Vec::new();
    for result in &response.results {
        if ends_statement(result) {
            dones_left -= 1;
        }
        let more = match kind {
            RequestKind::Batch if dones_left == 0 => 0,
            _ => done_status::MORE,
        };
        let statement = Statement {
            done_kind,
            more,
            server_name,
        };
        any_failed |= statement.put(&mut out, result);
    }
    match kind {
        RequestKind::Batch if no_statements => {
            put_done(&mut out, DoneKind::Done, 0, cur_cmd::NONE, 0)
        }
        RequestKind::Batch => {}
        RequestKind::Rpc => put_rpc_end(&mut out, response.return_status, any_failed),
    }
    out
}

/// Every result but INFO ends its statement with a DONE.
fn ends_statement(result: &StatementResult) -> bool {
    !matches!(result, StatementResult::Info(_))
}

fn put_rpc_end(out: &mut Vec<u8>, return_status: Option<i32>, any_failed: bool) {
    if let Some(status) = return_status {
        put_return_status(out, status);
    }
    let status = if any_failed { done_status::ERROR } else { 0 };
    put_done(out, DoneKind::Proc, status, cur_cmd::EXECUTE, 0);
}

/// How to end one statement of a reply.
struct Statement<'a> {
    done_kind: DoneKind,
    /// [`done_status::MORE`] or 0.
    more: u16,
    server_name: &'a str,
}

impl Statement<'_> {
    /// Appends the tokens of one result; returns whether the statement failed.
    fn put(&self, out: &mut Vec<u8>, result: &StatementResult) -> bool {
        match result {
            StatementResult::Rows(result_set) => return self.put_rows(out, result_set),
            StatementResult::Done { rows } => self.put_done(out, 0, cur_cmd::NONE, *rows),
            StatementResult::Info(message) => {
                put_message(out, MessageKind::Info, message, self.server_name)
            }
            StatementResult::Failed(messages) => {
                self.put_errors(out, messages);
                return true;
            }
        }
        false
    }

    fn put_rows(&self, out: &mut Vec<u8>, result_set: &ResultSet) -> bool {
        let mut tokens = Vec::new();
        match put_result_set(&mut tokens, result_set) {
            Ok(()) => {
                out.extend_from_slice(&tokens);
                self.put_done(out, 0, cur_cmd::SELECT, Some(result_set.rows.len() as u64));
                false
            }
            Err(mismatch) => {
                error!(%mismatch, "the engine returned a result set that does not match its columns");
                let message = ServerMessage::new(
                    ENGINE_RESULT_ERROR,
                    CLASS_USER_ERROR,
                    format!("Emulator engine bug: result set {mismatch}."),
                );
                self.put_errors(out, std::slice::from_ref(&message));
                true
            }
        }
    }

    fn put_errors(&self, out: &mut Vec<u8>, messages: &[ServerMessage]) {
        for message in messages {
            put_message(out, MessageKind::Error, message, self.server_name);
        }
        self.put_done(out, done_status::ERROR, cur_cmd::NONE, None);
    }

    fn put_done(&self, out: &mut Vec<u8>, status: u16, command: u16, rows: Option<u64>) {
        let count = if rows.is_some() {
            done_status::COUNT
        } else {
            0
        };
        put_done(
            out,
            self.done_kind,
            status | count | self.more,
            command,
            rows.unwrap_or(0),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tds::engine::{Column, ColumnType, Value};

    fn done(token: u8, status: u16, command: u16, rows: u64) -> Vec<u8> {
        let mut bytes = vec![token];
        bytes.extend_from_slice(&status.to_le_bytes());
        bytes.extend_from_slice(&command.to_le_bytes());
        bytes.extend_from_slice(&rows.to_le_bytes());
        bytes
    }

    fn error_4305() -> ServerMessage {
        ServerMessage::new(4305, 16, "")
    }

    /// ERROR 4305, class 16, empty text, empty server and procedure, line 1.
    fn error_4305_bytes() -> Vec<u8> {
        vec![
            0xAA, 0x0E, 0x00, 0xD1, 0x10, 0x00, 0x00, 0x01, 0x10, 0x00, 0x00, 0x00, 0x00, 0x01,
            0x00, 0x00, 0x00,
        ]
    }

    fn one_int_row() -> StatementResult {
        StatementResult::Rows(ResultSet {
            columns: vec![Column::new("c", ColumnType::Int)],
            rows: vec![vec![Value::Int(1)]],
        })
    }

    fn one_int_row_bytes() -> Vec<u8> {
        vec![
            0x81, 0x01, 0x00, 0, 0, 0, 0, 0x01, 0x00, 0x26, 0x04, 0x01, b'c',
            0x00, // COLMETADATA
            0xD1, 0x04, 0x01, 0x00, 0x00, 0x00, // ROW
        ]
    }

    #[test]
    fn batch_sets_more_on_all_dones_but_the_last() {
        let response = Response::new(vec![
            StatementResult::Done { rows: Some(2) },
            StatementResult::Info(ServerMessage::new(3014, 0, "")),
            StatementResult::Done { rows: None },
        ]);
        let bytes = encode_response(&response, RequestKind::Batch, "");
        let mut expected = done(0xFD, 0x11, 0x00, 2);
        expected.extend_from_slice(&[
            0xAB, 0x0E, 0x00, 0xC6, 0x0B, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
            0x00, 0x00, 0x00,
        ]);
        expected.extend(done(0xFD, 0x00, 0x00, 0));
        assert_eq!(bytes, expected);
    }

    #[test]
    fn batch_rows_end_with_a_counted_select_done() {
        let bytes = encode_response(&Response::new(vec![one_int_row()]), RequestKind::Batch, "");
        let mut expected = one_int_row_bytes();
        expected.extend(done(0xFD, 0x10, 0xC1, 1));
        assert_eq!(bytes, expected);
    }

    #[test]
    fn batch_failure_sends_errors_then_done_error() {
        let response = Response::new(vec![StatementResult::Failed(vec![
            error_4305(),
            error_4305(),
        ])]);
        let bytes = encode_response(&response, RequestKind::Batch, "");
        let mut expected = error_4305_bytes();
        expected.extend(error_4305_bytes());
        expected.extend(done(0xFD, 0x02, 0x00, 0));
        assert_eq!(bytes, expected);
    }

    #[test]
    fn empty_batch_still_ends_with_done() {
        assert_eq!(
            encode_response(&Response::default(), RequestKind::Batch, ""),
            done(0xFD, 0, 0, 0)
        );
    }

    #[test]
    fn rpc_uses_doneinproc_then_returnstatus_and_doneproc() {
        let response = Response {
            results: vec![one_int_row()],
            return_status: Some(0),
            close_after: false,
        };
        let bytes = encode_response(&response, RequestKind::Rpc, "");
        let mut expected = one_int_row_bytes();
        expected.extend(done(0xFF, 0x11, 0xC1, 1));
        expected.extend_from_slice(&[0x79, 0, 0, 0, 0]);
        expected.extend(done(0xFE, 0x00, 0xE0, 0));
        assert_eq!(bytes, expected);
    }

    #[test]
    fn failed_rpc_sets_error_on_doneproc() {
        let response = Response::new(vec![StatementResult::Failed(vec![error_4305()])]);
        let bytes = encode_response(&response, RequestKind::Rpc, "");
        let mut expected = error_4305_bytes();
        expected.extend(done(0xFF, 0x03, 0x00, 0));
        expected.extend(done(0xFE, 0x02, 0xE0, 0));
        assert_eq!(bytes, expected);
    }

    #[test]
    fn mismatched_result_set_becomes_an_error() {
        let response = Response::new(vec![StatementResult::Rows(ResultSet {
            columns: vec![Column::new("c", ColumnType::Int)],
            rows: vec![vec![Value::Bit(true)]],
        })]);
        let bytes = encode_response(&response, RequestKind::Batch, "");
        assert_eq!(bytes[0], 0xAA);
        assert_eq!(&bytes[bytes.len() - 13..], &done(0xFD, 0x02, 0x00, 0)[..]);
    }

    #[test]
    fn ignored_ack_is_done_with_error() {
        assert_eq!(ignored_ack(), done(0xFD, 0x02, 0x00, 0));
    }

    #[test]
    fn attention_ack_is_done_with_attn() {
        assert_eq!(attention_ack(), done(0xFD, 0x20, 0x00, 0));
    }

    #[test]
    fn login_reply_ends_with_a_plain_done() {
        let bytes = login_accepted("msdb", 4096);
        assert_eq!(&bytes[..4], &[0xE3, 0x17, 0x00, 0x01]);
        assert_eq!(&bytes[bytes.len() - 13..], &done(0xFD, 0, 0, 0)[..]);
    }

    #[test]
    fn error_reply_is_error_then_done_error() {
        let mut expected = error_4305_bytes();
        expected.extend(done(0xFD, 0x02, 0x00, 0));
        assert_eq!(error_reply(&error_4305(), ""), expected);
    }
}
