package classify

import (
	"strconv"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/dsn"
)

// reply builds the status the smtp client makes of a (possibly
// multi-line) reply: lines joined by a space, the first enhanced code
// taken off, the later lines' codes left in the text.
func reply(code int, enh string, lines ...string) *dsn.Status {
	return dsn.New(code, enh, strings.Join(lines, " "))
}

// realReplies are replies of large receivers, as published in their
// postmaster pages or seen in logs, with the class the shipped rules
// must give them.
var realReplies = []struct {
	name string
	st   *dsn.Status
	want Class
}{
	{"gmail no such user", reply(550, "5.1.1", "The email account that you tried to reach does not exist. Please try",
		"5.1.1 double-checking the recipient's email address for typos or", "5.1.1 unnecessary spaces. For more information, go to",
		"5.1.1  https://support.google.com/mail/?p=NoSuchUser d9443c01a7336-21e4a6b5c3esi123456ad.42 - gsmtp"), InvalidRecipient},
	{"gmail disabled", reply(550, "5.2.1", "The email account that you tried to reach is disabled. https://support.google.com/mail/?p=DisabledUser"), InvalidRecipient},
	{"gmail over quota 4xx", reply(452, "4.2.2", "The recipient's inbox is out of storage space. Please direct the",
		"4.2.2 recipient to", "4.2.2  https://support.google.com/mail/?p=OverQuotaTemp"), MailboxFull},
	{"gmail over quota 5xx", reply(552, "5.2.2", "The email account that you tried to reach is over quota. https://support.google.com/mail/?p=OverQuotaPerm"), MailboxFull},
	{"gmail rate limited", reply(421, "4.7.28", "[192.0.2.1      15] Our system has detected an unusual rate of",
		"4.7.28 unsolicited mail originating from your IP address. To protect our", "4.7.28 users from spam, mail sent from your IP address has been temporarily",
		"4.7.28 rate limited."), RateLimited},
	{"gmail receiving rate", reply(450, "4.2.1", "The user you are trying to contact is receiving mail at a rate that",
		"4.2.1 prevents additional messages from being delivered."), RateLimited},
	{"gmail low reputation", reply(421, "4.7.0", "[192.0.2.1] This message is suspicious due to the very low",
		"4.7.0 reputation of the sending IP address."), SpamBlock},
	{"gmail dmarc", reply(550, "5.7.26", "Unauthenticated email from example.com is not accepted due to",
		"5.7.26 domain's DMARC policy. Please contact the administrator of", "5.7.26 example.com domain if this was a legitimate mail."), Policy},
	{"dmarc 554", reply(554, "5.7.26", "This mail has been blocked because the sender is unauthenticated."), Policy},
	{"gmail spf", reply(550, "5.7.23", "The message was not sent because the SPF check failed."), Policy},
	{"gmail ptr", reply(550, "5.7.25", "[2001:db8::1] The IP address sending this message does not have a PTR record setup"), Policy},
	{"gmail unsolicited content", reply(550, "5.7.1", "[192.0.2.1] Our system has detected that this message is",
		"5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail,", "5.7.1 this message has been blocked."), Content},
	{"gmail content security", reply(552, "5.7.0", "This message was blocked because its content presents a potential",
		"5.7.0 security issue."), Content},
	{"gmail not authorized directly", reply(550, "5.7.1", "The IP you're using to send mail is not authorized to",
		"5.7.1 send email directly to our servers. Please use the SMTP relay at your service provider instead."), SpamBlock},
	{"gmail generic try later", reply(421, "4.7.0", "Try again later, closing connection. (EHLO)"), Transient},
	{"spamhaus 550", reply(550, "5.7.1", "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1"), SpamBlock},
	{"spamhaus 554 no enhanced", reply(554, "", "mx.example.net ESMTP not accepting messages from 192.0.2.1: listed at zen.spamhaus.org"), SpamBlock},
	{"microsoft 5.7.708", reply(550, "5.7.708", "Service unavailable. Access denied, traffic not accepted from this IP. For more information please go to http://go.microsoft.com/fwlink/?LinkId=526653 AS(7230) [DB5EUR03FT023.eop-EUR03.prod.protection.outlook.com]"), SpamBlock},
	{"microsoft 5.7.606", reply(550, "5.7.606", "Access denied, banned sending IP [192.0.2.1]. To request removal from this list please visit https://sender.office.com/"), SpamBlock},
	{"outlook S3150", reply(550, "5.7.1", "Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150)."), SpamBlock},
	{"microsoft dbeb", reply(550, "5.4.1", "Recipient address rejected: Access denied. For more information see https://aka.ms/EXOSmtpErrors [AM4PEPF00025F9C.EURPRD83.prod.outlook.com]"), InvalidRecipient},
	{"microsoft recipient not found", reply(550, "5.1.10", "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"), InvalidRecipient},
	{"microsoft dmarc", reply(550, "5.7.509", "Access denied, sending domain example.com does not pass DMARC verification and has a DMARC policy of reject."), Policy},
	{"microsoft spam content", reply(550, "5.7.350", "Remote server returned message detected as spam -> 554 5.7.1 Message rejected as spam"), Content},
	{"gmx ptr", reply(554, "", "gmx.net (mxgmx017) Nemesis ESMTP Service not available No SMTP service Bad DNS PTR resource record."), Policy},
	{"icloud policy", reply(554, "5.7.1", "[HM08] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137"), Policy},
	{"microsoft server busy", reply(451, "4.7.500", "Server busy. Please try again later from [192.0.2.1]. (S77714) [DB3EUR04FT052.eop-eur04.prod.protection.outlook.com]"), RateLimited},
	{"microsoft tenant relay", reply(550, "5.7.64", "TenantAttribution; Relay Access Denied"), Policy},
	{"microsoft size", reply(552, "5.3.4", "Message size exceeds fixed maximum message size"), Content},
	{"yahoo TSS04", reply(421, "4.7.0", "[TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"), RateLimited},
	{"yahoo TSS09", reply(421, "4.7.0", "[TSS09] All messages from 192.0.2.1 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes"), SpamBlock},
	{"yahoo policy", reply(554, "5.7.9", "Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes"), Policy},
	{"yahoo no mailbox", reply(554, "", "delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] - mta1234.mail.bf1.yahoo.com"), InvalidRecipient},
	{"yahoo BL21", reply(553, "5.7.1", "[BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes"), SpamBlock},
	{"comcast", reply(554, "", "resimta-po-12v.sys.comcast.net resimta-po-12v.sys.comcast.net 192.0.2.1 found on one or more DNSBLs, see http://postmaster.comcast.net/smtp-error-codes.php#BL000010"), SpamBlock},
	{"postfix user unknown", reply(550, "5.1.1", "<nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table"), InvalidRecipient},
	{"postfix relay denied", reply(554, "5.7.1", "<x@elsewhere.example>: Relay access denied"), Policy},
	{"postfix greylisted", reply(450, "4.2.0", "<x@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.com.html"), Transient},
	{"postfix sender domain", reply(450, "4.1.8", "<a@nonexistent.example>: Sender address rejected: Domain not found"), Policy},
	{"postfix recipient domain", reply(550, "5.1.2", "<a@nonexistent.example>: Recipient address rejected: Domain not found"), BadDomain},
	{"exim over quota", reply(552, "", "Mailbox quota exceeded"), MailboxFull},
	{"dovecot lmtp quota", reply(452, "4.2.2", "<bob@example.com> Quota exceeded (mailbox for user is full)"), MailboxFull},
	{"null mx", reply(556, "5.1.10", "Recipient address rejected: domain does not accept mail (null MX)"), BadDomain},
	{"no such domain", dsn.NoSuchDomain, BadDomain},
	{"dns temporary", dsn.DNSTemp, Transient},
	{"connection refused", dsn.ConnectFailed, Transient},
	{"timeout", dsn.RemoteTimeout, Transient},
	{"local no such user", reply(550, "5.1.1", "no such user"), InvalidRecipient},
	{"tls required", reply(451, "4.7.4", "TLS is required, but was not offered"), Policy},
	{"virus", reply(554, "5.7.0", "Rejected: message contains a virus (Eicar-Test-Signature)"), Content},
	{"bare 550 unknown", reply(550, "", "Requested action not taken: mailbox unavailable"), InvalidRecipient},
	{"too many connections", reply(421, "4.7.0", "Too many concurrent SMTP connections; please try again later."), RateLimited},
	{"expired with last error", dsn.New(554, "5.4.7", dsn.TooOld.Text+"; last error: The recipient's inbox is out of storage space."), MailboxFull},
	{"permanent nothing known", reply(554, "5.0.0", "transaction failed"), Unclassified},
	{"temporary nothing known", reply(451, "4.3.0", "Temporary server error. Please try again later"), Transient},
}

func TestDefaultRulesRealReplies(t *testing.T) {
	rs := Default()
	for _, c := range realReplies {
		got, rule := rs.Explain(c.st)
		if got != c.want {
			where := "no rule"
			if rule != nil {
				where = rule.File + ":" + strconv.Itoa(rule.Line) + " " + rule.Pattern.String()
			}
			t.Errorf("%s: %q\n got %s (%s), want %s", c.name, c.st.Error(), got, where, c.want)
		}
	}
}
