package invitations

import (
	htmltemplate "html/template"
	"strings"
	"text/template"
	"time"
)

// InvitationLanguages are the languages an invitation email can be written
// in, by code, with their names in that language.
var InvitationLanguages = []struct{ Code, Name string }{
	{"en", "English"},
	{"de", "Deutsch"},
}

// ValidLanguage reports whether an invitation email can be written in code.
func ValidLanguage(code string) bool {
	for _, l := range InvitationLanguages {
		if l.Code == code {
			return true
		}
	}
	return false
}

// EmailData fills an invitation email.
type EmailData struct {
	AccountName string
	Link        string
	Code        string
	Expires     string // date and time, UTC, in the language's format
}

type emailTemplates struct {
	subject string
	text    *template.Template
	html    *htmltemplate.Template
}

var invitationEmails = map[string]emailTemplates{
	"en": {
		subject: "You are invited to install Desktop",
		text: template.Must(template.New("en").Parse(`Hello,

{{.AccountName}} invites you to install Desktop on your Mac.

1. Download Desktop from your personal link:
   {{.Link}}
2. Install it. It activates itself with your activation code. If it asks
   for the code, enter:

   {{.Code}}

The code works once, on one computer, until {{.Expires}}. Please do not
share it; ask your IT administrator for another invitation to activate a
second computer.
`)),
		html: htmltemplate.Must(htmltemplate.New("en").Parse(`<p>Hello,</p>
<p>{{.AccountName}} invites you to install Desktop on your Mac.</p>
<ol>
<li><a href="{{.Link}}">Download Desktop from your personal link</a>.</li>
<li>Install it. It activates itself with your activation code. If it asks for the code, enter:
<p style="font-family:monospace;font-size:1.3em">{{.Code}}</p></li>
</ol>
<p>The code works once, on one computer, until {{.Expires}}. Please do not share it; ask your IT administrator for another invitation to activate a second computer.</p>
`)),
	},
	"de": {
		subject: "Einladung zur Installation von Desktop",
		text: template.Must(template.New("de").Parse(`Hallo,

{{.AccountName}} lädt Sie ein, Desktop auf Ihrem Mac zu installieren.

1. Laden Sie Desktop über Ihren persönlichen Link herunter:
   {{.Link}}
2. Installieren Sie es. Desktop aktiviert sich mit Ihrem Aktivierungscode.
   Falls nach dem Code gefragt wird, geben Sie ein:

   {{.Code}}

Der Code gilt einmal, auf einem Computer, bis {{.Expires}}. Bitte geben Sie
ihn nicht weiter; für einen weiteren Computer bitten Sie Ihre IT-Abteilung
um eine neue Einladung.
`)),
		html: htmltemplate.Must(htmltemplate.New("de").Parse(`<p>Hallo,</p>
<p>{{.AccountName}} lädt Sie ein, Desktop auf Ihrem Mac zu installieren.</p>
<ol>
<li><a href="{{.Link}}">Laden Sie Desktop über Ihren persönlichen Link herunter</a>.</li>
<li>Installieren Sie es. Desktop aktiviert sich mit Ihrem Aktivierungscode. Falls nach dem Code gefragt wird, geben Sie ein:
<p style="font-family:monospace;font-size:1.3em">{{.Code}}</p></li>
</ol>
<p>Der Code gilt einmal, auf einem Computer, bis {{.Expires}}. Bitte geben Sie ihn nicht weiter; für einen weiteren Computer bitten Sie Ihre IT-Abteilung um eine neue Einladung.</p>
`)),
	},
}

// FormatExpiry writes an expiry the way the language does.
func FormatExpiry(lang string, t time.Time) string {
	t = t.UTC()
	if lang == "de" {
		return t.Format("02.01.2006, 15:04") + " Uhr (UTC)"
	}
	return t.Format("January 2, 2006, 15:04") + " UTC"
}

// Render returns the subject, text and HTML of an invitation email.
func Render(lang string, d EmailData) (string, string, string, error) {
	t, ok := invitationEmails[lang]
	if !ok {
		t = invitationEmails["en"]
	}
	var text, html strings.Builder
	if err := t.text.Execute(&text, d); err != nil {
		return "", "", "", err
	}
	if err := t.html.Execute(&html, d); err != nil {
		return "", "", "", err
	}
	return t.subject, text.String(), html.String(), nil
}
