//! `keygate admin ...`: operators of the console, through the same
//! `provision` functions as the console's operators page.

use super::{database_url, open_store, print, print_items, read_stdin_line};
use crate::cli::OperatorCommand;
use crate::Failure;
use keygate_server::provisioning::{self as provision, NewOperator};
use serde_json::json;

pub(crate) async fn admin(command: OperatorCommand) -> Result<(), Failure> {
    match command {
        OperatorCommand::Create(a) => {
            let spec = NewOperator {
                email: a.email,
                password: read_stdin_line()?,
                role: a.role,
                tenant: a.tenant,
            };
            // Refused before the database is opened.
            provision::check_new_operator(&spec)?;
            let store = open_store(&database_url(&a.db), None).await?;
            let v = provision::create_operator(store.as_ref(), &spec).await?;
            print(json!({"id": v.id, "email": v.email, "role": v.role, "tenant": v.tenant}));
        }
        OperatorCommand::List(a) => {
            let store = open_store(&database_url(&a.db), None).await?;
            print_items(provision::list_operators(store.as_ref()).await?)?;
        }
        OperatorCommand::Delete(a) => {
            let which = a.id.or(a.email).unwrap_or_default();
            let store = open_store(&database_url(&a.db), None).await?;
            let v = provision::delete_operator(store.as_ref(), &which).await?;
            print(json!({"id": v.id, "email": v.email, "deleted": true}));
        }
    }
    Ok(())
}
