package ldaptest

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
)

// The fixture's names and passwords.
const (
	Base            = "dc=example,dc=org"
	People          = "ou=people," + Base
	AdminsGroup     = "cn=admins,ou=groups," + Base
	ServiceDN       = "cn=portus,ou=services," + Base
	ServicePassword = "service-account-password"
	RootDN          = "cn=root," + Base
	RootPassword    = "root-password"

	AlicePassword = "alice-directory-password"
	BobPassword   = "bob-directory-password"
)

// UserDN is the DN of a user of the fixture.
func UserDN(name string) string { return "uid=" + name + "," + People }

// slapdConf is the server's configuration: the schemas of the fixture, an
// mdb database in dir, and access rules by which only the service account
// (and each entry itself) reads entries, and anonymous clients only bind.
func slapdConf(dir string) string {
	return fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "%[2]s"
rootdn "%[3]s"
rootpw %[4]s
directory %[1]s/db
access to attrs=userPassword
  by self =xw
  by anonymous auth
  by * none
access to *
  by dn.exact="%[5]s" read
  by self read
  by * none
`, dir, Base, RootDN, RootPassword, ServiceDN)
}

// fixture is the LDIF of the directory in the package doc.
func fixture() string {
	return fmt.Sprintf(`dn: %[1]s
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,%[1]s
objectClass: organizationalUnit
ou: people

dn: ou=groups,%[1]s
objectClass: organizationalUnit
ou: groups

dn: ou=services,%[1]s
objectClass: organizationalUnit
ou: services

dn: %[2]s
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: portus
userPassword: %[3]s

dn: %[4]s
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.org
userPassword: %[5]s

dn: %[6]s
objectClass: inetOrgPerson
uid: bob
cn: Bob Builder
sn: Builder
mail: bob@example.org
userPassword: %[7]s

dn: %[8]s
objectClass: groupOfNames
cn: admins
member: %[4]s
member: cn=placeholder,ou=groups,%[1]s
`, Base, ServiceDN, ssha(ServicePassword), UserDN("alice"), ssha(AlicePassword), UserDN("bob"), ssha(BobPassword), AdminsGroup)
}

// ssha is the {SSHA} userPassword scheme: base64(SHA-1(password+salt)+salt).
func ssha(password string) string {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		panic(err)
	}
	h := sha1.New()
	h.Write([]byte(password))
	h.Write(salt)
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...))
}
