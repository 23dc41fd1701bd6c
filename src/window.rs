//! Windows (browsing contexts) and their documents.
//!
//! A window is a stable handle; its *document* (URL, origin, listeners, child frames) is replaced
//! on navigation. All windows live in one [`HandleTable`], so the handle an embedder holds, the
//! `source` of an event and the lookup key are the same value.

use crate::error::{Error, pm_result};
use crate::handles::{Handle, HandleTable};
use crate::listener::{Listener, ListenerList};
use crate::origin::Origin;
use std::sync::Arc;
use url::Url;

/// All live windows.
pub static WINDOWS: HandleTable<Window> = HandleTable::new(1);

/// A window handle's state.
pub struct Window {
    parent: Option<Handle>,
    doc: Document,
}

/// What navigation replaces.
pub struct Document {
    origin: Origin,
    listeners: ListenerList,
    children: Vec<Handle>,
}

impl Window {
    pub fn origin(&self) -> &Origin {
        &self.doc.origin
    }

    pub fn listeners(&self) -> &ListenerList {
        &self.doc.listeners
    }
}

/// True for URLs that "match about:blank": scheme about, path blank, no userinfo or host.
fn is_about_blank(url: &Url) -> bool {
    url.scheme() == "about" && url.path() == "blank" && url.username().is_empty() && url.password().is_none() && url.host().is_none()
}

fn parse_url(url: &str) -> Result<Url, Error> {
    Url::parse(url).map_err(|e| {
        Error::new(
            pm_result::PM_ERR_INVALID_URL,
            format!("{url:?} is not an absolute URL: {e}"),
        )
    })
}

fn gone() -> Error {
    Error::invalid_handle("window")
}

/// Creates a top-level window whose document is at `url`.
pub fn create(url: &str) -> Result<Handle, Error> {
    let url = parse_url(url)?;
    let origin = Origin::of_url(&url);
    Ok(insert(None, origin))
}

/// Creates an iframe in `parent`'s current document. Its initial `about:blank` document inherits
/// the parent's origin (the same opaque origin, when opaque). Freed with its parent.
pub fn create_child(parent: Handle, url: &str) -> Result<Handle, Error> {
    let url = parse_url(url)?;
    let origin = if is_about_blank(&url) {
        WINDOWS
            .with(parent, |p| p.doc.origin.clone())
            .ok_or_else(gone)?
    } else {
        Origin::of_url(&url)
    };
    let child = insert(Some(parent), origin);
    // Link after inserting: if the parent was freed meanwhile, nobody else will free the child.
    if WINDOWS.with_mut(parent, |p| p.doc.children.push(child)).is_none() {
        free(child).ok();
        return Err(gone());
    }
    Ok(child)
}

fn insert(parent: Option<Handle>, origin: Origin) -> Handle {
    WINDOWS.insert_with(|_| Window {
        parent,
        doc: Document {
            origin,
            listeners: ListenerList::default(),
            children: Vec::new(),
        },
    })
}

/// Frees a window, its child frames (recursively) and their listeners. Each removed listener's
/// destroy runs here, after the window is gone, or when its running call returns.
pub fn free(handle: Handle) -> Result<(), Error> {
    let window = WINDOWS.remove(handle).ok_or_else(gone)?;
    if let Some(parent) = window.parent {
        WINDOWS.with_mut(parent, |p| p.doc.children.retain(|&c| c != handle));
    }
    retire(window.doc);
    Ok(())
}

/// Tears down a document that is no longer any window's: frees its child frames and removes its
/// listeners. Must be called with no lock held (destroy callbacks run here).
fn retire(doc: Document) {
    let mut removed: Vec<Arc<Listener>> = Vec::new();
    let mut docs = vec![doc];
    while let Some(mut doc) = docs.pop() {
        removed.extend(doc.listeners.take_all());
        for child in doc.children.drain(..) {
            if let Some(w) = WINDOWS.remove(child) {
                docs.push(w.doc);
            }
        }
    }
    for listener in removed {
        listener.remove();
    }
}

/// Gives the window a new document at `url`: a new origin (`about:blank` gets a new opaque
/// origin), and the old document's listeners and child frames are gone.
pub fn navigate(handle: Handle, url: &str) -> Result<(), Error> {
    let url = parse_url(url)?;
    let doc = Document {
        origin: Origin::of_url(&url),
        listeners: ListenerList::default(),
        children: Vec::new(),
    };
    let old = WINDOWS
        .with_mut(handle, |w| std::mem::replace(&mut w.doc, doc))
        .ok_or_else(gone)?;
    retire(old);
    Ok(())
}

/// The current document's origin.
pub fn origin(handle: Handle) -> Result<Origin, Error> {
    WINDOWS
        .with(handle, |w| w.doc.origin.clone())
        .ok_or_else(gone)
}

/// The parent window, None for a top-level window.
pub fn parent(handle: Handle) -> Result<Option<Handle>, Error> {
    WINDOWS.with(handle, |w| w.parent).ok_or_else(gone)
}

/// Registers a listener on the current document; returns its id.
pub fn add_listener(handle: Handle, listener: Arc<Listener>) -> Result<u64, Error> {
    let id = listener.id();
    WINDOWS
        .with_mut(handle, |w| w.doc.listeners.push(listener))
        .ok_or_else(gone)?;
    Ok(id)
}

/// Removes a listener: it will not be called again (a call already running finishes).
pub fn remove_listener(handle: Handle, id: u64) -> Result<(), Error> {
    let listener = WINDOWS
        .with_mut(handle, |w| w.doc.listeners.take(id))
        .ok_or_else(gone)?
        .ok_or_else(|| Error::invalid_handle("listener id"))?;
    listener.remove();
    Ok(())
}
