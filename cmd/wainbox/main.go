// Command wainbox is the WhatsApp Business inbox backend: one binary that serves the agent API,
// Meta's webhook, the WebSocket fan-out and River UI, applies migrations, manages users and runs
// the simulator.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/wainbox/wainbox/internal/app"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/config"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/simulator"
)

const usage = `wainbox: the backend of a WhatsApp Business customer-service inbox.

Usage:
  wainbox serve [--bootstrap-admin EMAIL]   run the API, webhook, WebSocket, workers and River UI
  wainbox migrate                           apply database migrations (River's and wainbox's)
  wainbox user create --email E --name N --role admin|supervisor|agent [--password P]
                                            create a user (password read from stdin when absent)
  wainbox simulate [--addr :8090] [--webhook-url URL] [--webhook-retry-for 10m]
                                            run the simulator alone (fake Graph API, phone, Gemini)

Run 'wainbox serve --help' for every environment variable.
`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wainbox:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Print(usage)
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:])
	case "migrate":
		return migrate(ctx, args[1:])
	case "user":
		return user(ctx, args[1:])
	case "simulate":
		return simulate(ctx, args[1:])
	default:
		return fmt.Errorf("unknown command %q\n\n%s", args[0], usage)
	}
}

// envHelp is a command's --help: its flags, then the environment variables it reads (every one
// when names is empty), from config's table.
func envHelp(fs *flag.FlagSet, names ...string) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: wainbox %s [flags]\n\nFlags:\n", fs.Name())
		fs.PrintDefaults()
		fmt.Fprintln(w, "\nEnvironment:")
		_ = config.WriteHelp(w, names...)
	}
}

func loadConfig() (*config.Config, *slog.Logger, error) {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewJSONHandler(os.Stderr, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(os.Stderr, opts)
	}
	return cfg, slog.New(h), nil
}

// loadDatabase is the configuration of the commands that only use the database.
func loadDatabase() (string, error) {
	url, err := config.LoadDatabase(os.LookupEnv)
	if err != nil {
		return "", fmt.Errorf("invalid configuration:\n%w", err)
	}
	return url, nil
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	bootstrap := fs.String("bootstrap-admin", "", "when no admin exists, create one with this email and a random password, and print it")
	fs.Usage = envHelp(fs)
	if err := fs.Parse(args); err != nil {
		return ignoreHelp(err)
	}
	cfg, logger, err := loadConfig()
	if err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, logger, nil)
	if err != nil {
		return err
	}
	if *bootstrap != "" {
		if err := bootstrapAdmin(ctx, a.Users, *bootstrap); err != nil {
			_ = a.Shutdown(cfg.ShutdownTimeout)
			return err
		}
	}
	if err := a.Start(ctx); err != nil {
		_ = a.Shutdown(cfg.ShutdownTimeout)
		return err
	}
	waitErr := a.Wait(ctx)
	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	return errors.Join(waitErr, a.Shutdown(cfg.ShutdownTimeout))
}

// bootstrapAdmin gives a fresh local install a way in: make run passes it, so the first start
// prints credentials and later starts say the admin exists.
func bootstrapAdmin(ctx context.Context, users *auth.Users, email string) error {
	n, err := users.CountAdmins(ctx)
	if err != nil || n > 0 {
		return err
	}
	password := rand.Text()
	if _, err := users.Create(ctx, auth.NewUser{Email: email, Name: "Admin", Role: auth.RoleAdmin, Password: password}); err != nil {
		return fmt.Errorf("error creating the first admin: %w", err)
	}
	fmt.Fprintf(os.Stderr, "\n  Admin user created. Log in with:\n    email:    %s\n    password: %s\n  (shown once; create another with `wainbox user create --role admin`)\n\n", email, password)
	return nil
}

func migrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.Usage = envHelp(fs, "DATABASE_URL")
	if err := fs.Parse(args); err != nil {
		return ignoreHelp(err)
	}
	url, err := loadDatabase()
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	pool, err := database.Open(ctx, url, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := database.Migrate(ctx, pool, logger); err != nil {
		return err
	}
	logger.Info("database is up to date")
	return nil
}

func user(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: wainbox user create --email E --name N --role admin|supervisor|agent [--password P]")
	}
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	email := fs.String("email", "", "the user's email (login name)")
	name := fs.String("name", "", "the user's display name")
	role := fs.String("role", "agent", "admin, supervisor or agent")
	password := fs.String("password", "", "the password (read from stdin when absent, which keeps it out of shell history)")
	fs.Usage = envHelp(fs, "DATABASE_URL")
	if err := fs.Parse(args[1:]); err != nil {
		return ignoreHelp(err)
	}
	url, err := loadDatabase()
	if err != nil {
		return err
	}
	if *password == "" {
		fmt.Fprint(os.Stderr, "Password: ")
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("error reading password: %w", err)
		}
		*password = strings.TrimRight(line, "\r\n")
	}
	pool, err := database.Open(ctx, url, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := database.CheckMigrations(ctx, pool); err != nil {
		return err
	}
	u, err := auth.NewUsers(pool, 0).Create(ctx, auth.NewUser{Email: *email, Name: *name, Role: *role, Password: *password})
	if err != nil {
		return err
	}
	fmt.Printf("created user %d %s (%s)\n", u.ID, u.Email, u.Role)
	return nil
}

func simulate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	addr := fs.String("addr", ":8090", "address to listen on")
	webhookURL := fs.String("webhook-url", "http://localhost:8080/webhooks/whatsapp", "where the fake phone and the status callbacks post webhooks")
	webhookRetryFor := fs.Duration("webhook-retry-for", simulator.DefaultWebhookRetryFor, "how long a refused or unreached status webhook is redelivered, with backoff, before it is given up")
	enforceWindow := fs.Bool("enforce-window", false, "refuse free-form sends to customers who have not written in 24 hours with Meta's error 131047")
	reviewDelay := fs.Duration("template-review-delay", simulator.DefaultTemplateReviewDelay, "how long a created template stays PENDING before it is approved; negative: until PUT /simulator/templates/status")
	if err := fs.Parse(args); err != nil {
		return ignoreHelp(err)
	}
	wa, err := config.LoadSimulator(os.LookupEnv)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	sim, err := simulator.New(&simulator.Config{
		AccessToken:         wa.AccessToken,
		AppSecret:           wa.AppSecret,
		WebhookURL:          *webhookURL,
		PhoneNumberID:       wa.PhoneNumberID,
		DisplayPhoneNumber:  wa.DisplayPhoneNumber,
		BusinessAccountID:   wa.BusinessAccountID,
		AutoStatuses:        true,
		WebhookRetryFor:     *webhookRetryFor,
		EnforceWindow:       *enforceWindow,
		TemplateReviewDelay: *reviewDelay,
		Logger:              logger,
	})
	if err != nil {
		return err
	}
	defer sim.Close()
	srv := &http.Server{Addr: *addr, Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	logger.Info("simulator listening", "addr", *addr, "graph_api", "/simulator/graph", "webhook_url", *webhookURL)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func ignoreHelp(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}
