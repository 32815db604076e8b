//! Accounts as the operator manages them (`ecpa-server account …`): create, set the
//! password (ending sessions and trusted devices), grant the administrator role, link to a
//! person of the registry.

use crate::batch::Batch;
use crate::portal::Portal;
use crate::{
    audit::AuditEntry,
    auth::store::NewAccount,
    error::{Result, ServerError},
};
use ecpa_domain::{account::AccountName, national_id::NationalId, password::PasswordViolation};

impl Portal {
    /// Creates an account after checking the password policy.
    pub async fn create_account(
        &self,
        name: &str,
        display_name: &str,
        email: Option<&str>,
        password: &str,
    ) -> Result<String> {
        let name = AccountName::parse(name).map_err(|e| ServerError::Invalid(e.to_string()))?;
        self.check_password(name.as_str(), password)?;
        let hash = self.hasher.hash(password).await?;
        crate::auth::store::insert_account(
            &self.db.pool,
            &NewAccount {
                name: name.as_str(),
                display_name,
                email,
                password_hash: Some(&hash),
            },
            self.now(),
        )
        .await
    }

    pub async fn set_password(&self, name: &str, password: &str) -> Result<()> {
        let name = AccountName::parse(name).map_err(|e| ServerError::Invalid(e.to_string()))?;
        let acct = crate::auth::store::account_by_name(&self.db.pool, name.as_str())
            .await?
            .ok_or_else(|| ServerError::Invalid(format!("no account {name}")))?;
        self.check_password(name.as_str(), password)?;
        let hash = self.hasher.hash(password).await?;
        // A new password ends the account's sessions and trusted devices, in one commit.
        let mut batch = Batch::new();
        batch.push(crate::batch::Stmt::new(
            "UPDATE accounts SET password_hash = $1 WHERE id = $2",
            vec![hash.into(), acct.id.as_str().into()],
        ));
        for s in crate::auth::store::credentials_changed(&acct.id) {
            batch.push(s);
        }
        batch.push(
            crate::audit::audit_stmt(
                &AuditEntry {
                    kind: crate::audit::Kind::PasswordSet,
                    account_key: name.as_str(),
                    account_id: Some(&acct.id),
                    client: "cli",
                    trusted: false,
                    outcome: crate::audit::Outcome::Success,
                    detail: Some("sessions and trusted devices ended"),
                },
                self.now(),
            )
            .1,
        );
        batch.commit(&self.db).await
    }

    /// Grants or revokes the administrator role (audited as `admin.grant` / `admin.revoke`).
    pub async fn set_admin(&self, name: &str, admin: bool) -> Result<()> {
        let name = AccountName::parse(name).map_err(|e| ServerError::Invalid(e.to_string()))?;
        let acct = crate::auth::store::account_by_name(&self.db.pool, name.as_str())
            .await?
            .ok_or_else(|| ServerError::Invalid(format!("no account {name}")))?;
        crate::auth::store::set_admin(&self.db.pool, &acct.id, admin).await?;
        crate::audit::audit(
            &self.db.pool,
            &AuditEntry {
                kind: if admin {
                    crate::audit::Kind::AdminGrant
                } else {
                    crate::audit::Kind::AdminRevoke
                },
                account_key: name.as_str(),
                account_id: Some(&acct.id),
                client: "cli",
                trusted: false,
                outcome: crate::audit::Outcome::Ok,
                detail: None,
            },
            self.now(),
        )
        .await?;
        Ok(())
    }

    /// Links an account to a person of the registry (by national ID).
    pub async fn link_person(&self, account_id: &str, national_id: &str) -> Result<()> {
        let nid = NationalId::parse(national_id)
            .map_err(|e| ServerError::Invalid(format!("national ID: {e}")))?;
        crate::auth::store::set_national_id(&self.db.pool, account_id, nid.as_str()).await?;
        Ok(())
    }

    fn check_password(&self, account: &str, password: &str) -> Result<()> {
        self.password_policy
            .validate(account, password)
            .map_err(|v: Vec<PasswordViolation>| {
                let reasons: Vec<String> = v.iter().map(ToString::to_string).collect();
                ServerError::Invalid(format!("password {}", reasons.join("; ")))
            })
    }
}
