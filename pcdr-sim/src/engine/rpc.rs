//! Remote procedure calls: `sp_executesql` (by id 10 or by name) with its statement,
//! its `@params` declarations and the parameter values bound as variables of the batch;
//! any other procedure called by RPC is unknown (2812).

use crate::engine::exec::Exec;
use crate::engine::executesql::{bind, is_sp_executesql};
use crate::engine::failure::unknown_procedure;
use crate::engine::instance::InstanceEngine;
use crate::engine::scope::text_of;
use crate::tds::{Response, RpcProcedure, RpcRequest, SessionInfo, StatementResult};

/// Runs one RPC.
pub(crate) async fn run(
    engine: &InstanceEngine,
    session: &SessionInfo,
    call: RpcRequest,
) -> Response {
    let is_executesql = match &call.procedure {
        RpcProcedure::Id(id) => *id == 10,
        RpcProcedure::Name(name) => is_sp_executesql(name),
    };
    let statement = match call.params.first() {
        Some(p) => text_of(&p.value).unwrap_or_default(),
        None => String::new(),
    };
    engine.audit.rpc(
        session.spid(),
        &statement,
        call.params.get(1..).unwrap_or_default(),
    );
    let results = if is_executesql {
        let mut params = call.params.into_iter().skip(1).peekable();
        let declarations = params
            .next_if(|p| {
                matches!(
                    p.name.to_ascii_lowercase().trim_start_matches('@'),
                    "" | "params"
                )
            })
            .and_then(|p| text_of(&p.value));
        let values = params.map(|p| (Some(p.name), p.value)).collect();
        match bind(declarations.as_deref(), &statement, values) {
            Ok(scope) => {
                Exec::with_scope(engine, session, scope, 1)
                    .run_batch(&statement)
                    .await
            }
            Err(failure) => vec![StatementResult::Failed(failure.messages)],
        }
    } else {
        let name = match &call.procedure {
            RpcProcedure::Name(name) => name.clone(),
            RpcProcedure::Id(id) => format!("procedure id {id}"),
        };
        vec![StatementResult::Failed(unknown_procedure(&name).messages)]
    };
    Response {
        results,
        return_status: Some(0),
        close_after: false,
    }
}
