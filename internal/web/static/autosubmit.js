// Submits the SAML POST-binding form at once (the button remains for no-JS).
document.getElementById("saml-post").submit();
