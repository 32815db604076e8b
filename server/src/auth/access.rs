//! Who is asking: a request is signed in only through [`Portal::signed_in`], an
//! administrator only through [`Portal::require_admin`]. Both read the session the
//! middleware resolved *and* the account, so a disabled account is signed out everywhere at
//! once; no feature reads "signed in" from the session by hand. (The middleware's redirect
//! of `/my`, `/apps/*` and `/admin*` looks at the session only: a cheap gate in front of
//! pages whose data is decided here.)

use crate::auth::store::{account_by_id, AccountRow};
use crate::error::Result;
use crate::portal::Portal;
use ecpa_app::{
    api::context::{RequestCtx, SessionRef},
    error::ApiError,
};

/// A signed-in, enabled account, for this request. Only [`Portal::signed_in`] makes one.
#[derive(Debug, Clone)]
pub struct SignedIn {
    session: SessionRef,
    account: AccountRow,
}

impl SignedIn {
    pub fn session(&self) -> &SessionRef {
        &self.session
    }

    pub fn account(&self) -> &AccountRow {
        &self.account
    }

    /// The account's id.
    pub fn id(&self) -> &str {
        &self.account.id
    }
}

/// A signed-in administrator. Only [`Portal::require_admin`] makes one.
#[derive(Debug, Clone)]
pub struct Admin(SignedIn);

impl Admin {
    /// The administrator's account id.
    pub fn id(&self) -> &str {
        self.0.id()
    }
}

impl Portal {
    /// The signed-in, enabled account of this request, if any.
    pub(crate) async fn signed_in(&self, ctx: &RequestCtx) -> Result<Option<SignedIn>> {
        let Some(session) = &ctx.session else {
            return Ok(None);
        };
        let Some(id) = &session.account_id else {
            return Ok(None);
        };
        Ok(account_by_id(&self.db.pool, id)
            .await?
            .filter(|a| !a.disabled)
            .map(|account| SignedIn {
                session: session.clone(),
                account,
            }))
    }

    /// [`Portal::signed_in`], or `Unauthenticated`.
    pub(crate) async fn require_signed_in(
        &self,
        ctx: &RequestCtx,
    ) -> std::result::Result<SignedIn, ApiError> {
        self.signed_in(ctx).await?.ok_or(ApiError::Unauthenticated)
    }

    /// The signed-in administrator; `Unauthenticated` / `Forbidden` otherwise.
    pub(crate) async fn require_admin(
        &self,
        ctx: &RequestCtx,
    ) -> std::result::Result<Admin, ApiError> {
        let me = self.require_signed_in(ctx).await?;
        if me.account.is_admin {
            Ok(Admin(me))
        } else {
            Err(ApiError::Forbidden)
        }
    }
}
