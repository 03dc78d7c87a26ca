//! The SQL Server engine of one emulated instance: [`InstanceEngine`] implements
//! [`tds::Engine`](crate::tds::Engine) over the [world](crate::world).
//!
//! Every request is parsed with [`tsql::parse_batch`](crate::tsql::parse_batch) and run
//! statement by statement (`batch.rs`); `sp_executesql` RPCs bind their `@params`
//! declarations and values as variables (`rpc.rs`). Errors are SQL Server's numbers,
//! never a silent success. Sessions (their current database and transaction count) are
//! kept here, in memory; everything else is in the world file.
//!
//! Logins: one SQL login, `pcdr`, with the password in `DIR/sql-password`; a wrong one
//! gives 18456 (class 14). An instance marked down refuses the login with a class 20
//! error (the serving loop also closes its listener, so new connections are refused).

mod agent;
mod alter;
mod applock;
mod audit;
mod backup;
mod backup_header;
mod batch;
mod catalog;
mod eval;
mod exec;
mod executesql;
mod failure;
mod instance;
mod msdb;
mod restore;
mod rpc;
mod scope;
mod select;
#[cfg(test)]
mod tests;

use futures_util::future::{BoxFuture, FutureExt};

use crate::engine::exec::Exec;
use crate::tds::{
    Engine, LoginAccepted, LoginRequest, Request, Response, ServerMessage, SessionInfo,
};

pub use instance::InstanceEngine;

impl Engine for InstanceEngine {
    fn login(
        &self,
        session: &SessionInfo,
        login: &LoginRequest,
    ) -> Result<LoginAccepted, ServerMessage> {
        let database = self.check_login(login)?;
        self.open_session(session.spid(), &database, login);
        Ok(LoginAccepted { database })
    }

    fn execute<'a>(
        &'a self,
        session: &'a SessionInfo,
        request: Request,
    ) -> BoxFuture<'a, Response> {
        async move {
            match request {
                Request::Batch(text) => {
                    self.audit.batch(session.spid(), &text);
                    let results = Exec::new(self, session).run_batch(&text).await;
                    Response::new(results)
                }
                Request::Rpc(call) => rpc::run(self, session, call).await,
            }
        }
        .boxed()
    }

    fn disconnected(&self, spid: u16) {
        self.close_session(spid);
    }
}
