//! Sessions: a new one at every sign-in (the id rotates), resolving the cookie a request
//! presents, and who is signed in.

use crate::batch::Batch;
use crate::portal::Portal;
use crate::{auth::store::NewSession, db::ms, error::Result, tokens};
use ecpa_app::api::context::{RequestCtx, SessionRef};
use ecpa_domain::session::SessionState;

impl Portal {
    /// A fresh session (signed in to `account_id`, or anonymous) replacing the one the
    /// request presented, if any: the id rotates. Its writes (with the sign-in counters for
    /// an account) go into the caller's batch, so that a sign-in's writes are one commit.
    /// Returns its hash and its cookie.
    pub(crate) fn new_session_in(
        &self,
        batch: &mut Batch,
        ctx: &RequestCtx,
        account_id: Option<&str>,
    ) -> (String, String) {
        let now = self.now();
        if let Some(old) = &ctx.session {
            batch.push(crate::auth::store::delete_session_stmt(&old.id_hash));
        }
        let token = tokens::secret_token();
        let id_hash = tokens::token_hash(&token);
        batch.push(crate::auth::store::insert_session(&NewSession {
            id_hash: &id_hash,
            account_id,
            now,
            expires_at: self.sessions.hard_expiry(now),
            client: &ctx.client,
            user_agent: ctx.user_agent.as_deref(),
        }));
        if let Some(account_id) = account_id {
            for s in crate::content::counters::record_sign_in(account_id, now) {
                batch.push(s);
            }
        }
        (id_hash, self.cookies.session_cookie(&token))
    }

    /// The session a cookie token names, if it is still valid (expired ones are deleted).
    pub async fn resolve_session(&self, token: &str) -> Result<Option<SessionRef>> {
        if !tokens::looks_like_token(token) {
            return Ok(None);
        }
        let id_hash = tokens::token_hash(token);
        let Some(row) = crate::auth::store::session(&self.db.pool, &id_hash).await? else {
            return Ok(None);
        };
        let now = self.now();
        match self.sessions.state(row.created_at, row.last_seen_at, now) {
            SessionState::Active { touch } => {
                if touch {
                    crate::auth::store::touch_session(&self.db.pool, &id_hash, now).await?;
                }
                Ok(Some(SessionRef {
                    id_hash,
                    account_id: row.account_id,
                    created_at_ms: ms(row.created_at),
                }))
            }
            SessionState::IdleExpired | SessionState::AbsoluteExpired => {
                crate::auth::store::delete_session(&self.db.pool, &id_hash).await?;
                Ok(None)
            }
        }
    }
}
