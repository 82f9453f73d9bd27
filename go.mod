module veil

go 1.26.8

require (
	github.com/coder/websocket v1.8.15
	golang.org/x/text v0.43.0
	golang.org/x/time v0.16.0
)

require go.uber.org/goleak v1.3.0
