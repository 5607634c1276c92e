//! What the store's and the API's TLS share: finding rustls's own error
//! inside what a driver or an HTTP client reports.

/// The TLS error `e` is, or carries inside I/O errors (clients wrap it
/// once or twice).
pub(crate) fn rustls_error<'e>(
    e: &'e (dyn std::error::Error + 'static),
) -> Option<&'e rustls::Error> {
    if let Some(found) = e.downcast_ref::<rustls::Error>() {
        return Some(found);
    }
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    rustls_error(inner)
}
