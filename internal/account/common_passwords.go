package account

import "strings"

// commonPasswords are the most frequently used passwords of at least
// MinPasswordLength characters in public breach corpora, plus obvious
// variations. Compared in lower case.
var commonPasswords = strings.Fields(`
1234567890 12345678910 123456789a 123456789q 1q2w3e4r5t 1q2w3e4r5t6y 1qaz2wsx3edc 0987654321
qwertyuiop qwertyuiop123 qwerty1234 qwerty12345 qwerty123456 asdfghjkl1 asdfghjkl123 zxcvbnm123
password12 password123 password1234 password12345 passw0rd123 p@ssw0rd123 p@ssword123 password!1
iloveyou12 iloveyou123 princess123 football123 baseball123 basketball superman123 batman1234
letmein123 welcome123 welcome1234 welcome2024 welcome2025 welcome2026 sunshine123 starwars123
trustno1234 dragon1234 monkey1234 shadow1234 master1234 michael123 jennifer123 charlie123
abc1234567 abcd123456 abcdefg123 aaaaaaaaaa 1111111111 0000000000 1234512345 1122334455
changeme123 administrator admin12345 admin123456 root123456 secret1234 qazwsxedc123 zaq12wsx
summer2024 summer2025 summer2026 winter2024 winter2025 winter2026 spring2025 autumn2025
company123 computer123 internet123 liverpool1 chelsea123 arsenal123 manchester mustang123
passwordpassword 1234qwerty q1w2e3r4t5 q1w2e3r4t5y6 1234567890a a1234567890 asdf1234asdf
gatehouse1 gatehouse123 parallels1 parallels123 desktop123 letmein!23 password01 password2024
password2025 password2026 unbelievable photoshop1 pokemon123 whatever123 fuckyou123 freedom123
`)

var commonPasswordSet = func() map[string]bool {
	m := make(map[string]bool, len(commonPasswords))
	for _, p := range commonPasswords {
		m[p] = true
	}
	return m
}()

func isCommonPassword(lower string) bool {
	if commonPasswordSet[lower] {
		return true
	}
	// "password" or "qwerty" followed only by digits/punctuation.
	for _, stem := range []string{"password", "passw0rd", "p@ssw0rd", "qwerty", "letmein", "welcome", "iloveyou", "admin"} {
		if rest, ok := strings.CutPrefix(lower, stem); ok && strings.Trim(rest, "0123456789!@#$%^&*.?-_") == "" {
			return true
		}
	}
	return false
}
