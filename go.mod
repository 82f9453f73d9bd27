module veil

go 1.26.8

require (
	github.com/coder/websocket v1.8.15 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/text v0.43.0 // indirect
)
