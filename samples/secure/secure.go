// Package secure is the handshake-authentication sample (the pattern of
// the seed's handshake interceptor): the client puts an HMAC-signed JWT in
// the query string (/samples/secure?token=...); the endpoint's
// Configurator checks it during the handshake, on an executor goroutine,
// and refuses a missing or bad token with 401 before any session exists. The
// member id from the token's subject ("<id>" or "<id>:<anything>") is in
// the session's user properties as "memberId", and the member is the
// session's principal.
package secure

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsc-dev/wsc/endpoint"
)

// MemberIDProperty is the user property that holds the member id.
const MemberIDProperty = "memberId"

// member is the authenticated principal.
type member int64

func (m member) Name() string { return strconv.FormatInt(int64(m), 10) }

// Authenticator is the endpoint's Configurator.
type Authenticator struct {
	secret []byte
}

// ModifyHandshake checks the token.
func (a *Authenticator) ModifyHandshake(req *endpoint.HandshakeRequest, _ *endpoint.HandshakeResponse) error {
	raw := req.Request.URL.Query().Get("token")
	if raw == "" {
		return unauthorized("token required", "")
	}
	id, err := a.verify(raw)
	if err != nil {
		return unauthorized("invalid token", err.Error())
	}
	req.UserProperties.Set(MemberIDProperty, id)
	req.Principal = member(id)
	return nil
}

// verify checks the signature (HS256 only), the expiry and the subject.
func (a *Authenticator) verify(raw string) (int64, error) {
	tok, err := jwt.ParseWithClaims(raw, &jwt.RegisteredClaims{}, func(*jwt.Token) (any, error) { return a.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired())
	if err != nil {
		return 0, err
	}
	sub, err := tok.Claims.GetSubject()
	if err != nil {
		return 0, err
	}
	idPart, _, _ := strings.Cut(sub, ":")
	id, err := strconv.ParseInt(idPart, 10, 64)
	if err != nil || id <= 0 {
		return 0, errors.New("subject is not a member id")
	}
	return id, nil
}

func unauthorized(reason, detail string) error {
	challenge := `Bearer realm="wsc samples"`
	if detail != "" {
		challenge += `, error="invalid_token"`
	}
	return &endpoint.HandshakeError{Status: http.StatusUnauthorized, Reason: reason,
		Header: http.Header{"Www-Authenticate": {challenge}}}
}

// Sign makes a token for memberID valid for ttl, as the application's login
// would; tests and demos use it.
func Sign(secret []byte, memberID int64, ttl time.Duration) (string, error) {
	claims := jwt.RegisteredClaims{
		Subject:   strconv.FormatInt(memberID, 10),
		IssuedAt:  jwt.NewNumericDate(time.Now()),
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(ttl)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}

// Endpoint greets the member and echoes text.
type Endpoint struct{}

// OnOpen greets the member by id.
func (Endpoint) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) {
	id, _ := s.UserProperties().Get(MemberIDProperty)
	_ = s.Basic().SendText(fmt.Sprintf("hello member %v", id))
	s.SetRawTextHandler(func(b []byte) { _ = s.Basic().SendTextBytes(b) })
}

// Config returns the secure endpoint's deployment, at /secure, checking
// tokens signed with secret.
func Config(secret []byte) *endpoint.ServerConfig {
	return &endpoint.ServerConfig{
		Path:         "/secure",
		New:          func() endpoint.Endpoint { return Endpoint{} },
		Configurator: &Authenticator{secret: secret},
	}
}
