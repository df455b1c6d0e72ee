// Command pulumi-language-python is this project's Python language host for the real Pulumi CLI.
//
// Why our own: the Go module proxy refuses every version of Pulumi's own host module
// (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3: "403 Forbidden, This module version is not
// available", for the version list, for tags and for pseudo-versions alike; tools/README.md). The CLI needs a
// host to run a Python program at all, so this one does what Pulumi's host does for a pip project, written
// against Pulumi's published sdk/v3 module at the CLI's own version:
//
//   - Run starts Pulumi's own executor script, pulumi-language-python-exec (shipped in the sdk/v3 module and
//     installed beside this binary), with the project's virtualenv and the same flags, environment variables
//     (PULUMI_CONFIG, PULUMI_CONFIG_SECRET_KEYS) and exit-code conventions (32: the program already told the user)
//     as Pulumi's host does;
//   - GetRequiredPackages lists the pulumi-plugin.json of every installed package, so the engine knows the
//     plugins (databricks) the program needs before it runs;
//   - Cancel (the engine's Ctrl-C) interrupts the program with SIGINT, as Pulumi's host does;
//   - RunPlugin runs a Python plugin, and a policy pack (`pulumi preview --policy-pack policy`), as Pulumi's
//     host does: `python -u -m pulumi.policy <args> <pack dir>` from the pack's directory with the pack's own
//     virtualenv, the stack's config in the environment (through sdk/v3's PolicyProxy), its output streamed back.
//
// Anything else (code generation, templates, packing, debuggers) is left unimplemented: the engine does not
// call it for preview, up, refresh, import or destroy.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The executor's exit status when the program already printed an actionable message (as Pulumi's exec script
// and host agree): the engine then bails without adding "exited with non-zero exit code".
const exitAfterUserActionableMessage = 32

const executorName = "pulumi-language-python-exec"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.String("tracing", "", "accepted for the engine's sake; tracing is not emitted")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Version)
		return
	}

	self, err := os.Executable()
	if err != nil {
		fail(fmt.Errorf("could not determine this executable: %w", err))
	}
	executor := filepath.Join(filepath.Dir(self), executorName)
	if _, err := os.Stat(executor); err != nil {
		fail(fmt.Errorf("missing executor %s: %w", executor, err))
	}

	var engineAddress string
	if args := flag.Args(); len(args) > 0 {
		engineAddress = args[0]
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	cancelChannel := make(chan bool)
	go func() {
		<-ctx.Done()
		stop()
		close(cancelChannel)
	}()
	if engineAddress != "" {
		// Exit when the engine goes away, as every plugin does.
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, stop); err != nil {
			fail(fmt.Errorf("could not start the health check: %w", err))
		}
	}

	runCtx, cancelRuns := context.WithCancel(context.Background())
	host := &languageHost{executor: executor, engineAddress: engineAddress, runs: runCtx, cancelRuns: cancelRuns}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancelChannel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fail(fmt.Errorf("could not start the language host: %w", err))
	}
	// The engine reads the port from the first line of standard output.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fail(fmt.Errorf("the language host stopped serving: %w", err))
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
	os.Exit(1)
}

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	executor      string
	engineAddress string
	// Cancelled by the engine's Cancel: every running program gets SIGINT.
	runs       context.Context
	cancelRuns context.CancelFunc
}

// pythonOptions reads the runtime options of Pulumi.yaml, PulumiPlugin.yaml or PulumiPolicy.yaml (`virtualenv`,
// `toolchain`) as Pulumi's host does; this host runs pip projects only, which is what this repository is.
// A plugin (but not a policy pack, nor a program) without a `virtualenv` gets `venv`, as in Pulumi's host:
// plugins never run in the ambient Python.
func pythonOptions(info *pulumirpc.ProgramInfo, isPlugin bool) (toolchain.PythonOptions, error) {
	opts := toolchain.PythonOptions{Root: info.GetRootDirectory(), ProgramDir: info.GetProgramDirectory()}
	options := info.GetOptions().AsMap()
	if v, ok := options["virtualenv"]; ok {
		s, isString := v.(string)
		if !isString {
			return opts, errors.New("runtime option virtualenv must be a string")
		}
		opts.Virtualenv = s
	}
	if v, ok := options["toolchain"]; ok && v != "pip" {
		return opts, fmt.Errorf("runtime option toolchain %v is not supported by this host (pip only)", v)
	}
	opts.Toolchain = toolchain.Pip
	if isPlugin && opts.Virtualenv == "" {
		opts.Virtualenv = "venv"
	}
	return opts, nil
}

// toolchainFor is the project's Python toolchain (its virtualenv, validated).
func toolchainFor(ctx context.Context, info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	opts, err := pythonOptions(info, false)
	if err != nil {
		return nil, err
	}
	tc, err := toolchain.ResolveToolchain(opts)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	return tc, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

func (h *languageHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engineAddress = req.GetEngineAddress()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	// As Pulumi's host: the engine asks GetRequiredPackages instead.
	return nil, status.Error(codes.Unimplemented, "method GetRequiredPlugins not implemented")
}

// listPluginsScript prints the pulumi-plugin.json of every installed distribution that ships one, as a JSON
// list; a package's plugin file sits in its top-level import package.
const listPluginsScript = `
import importlib.metadata, json, pathlib
found = []
for dist in importlib.metadata.distributions():
    for file in dist.files or []:
        if file.name == "pulumi-plugin.json" and len(file.parts) == 2:
            found.append(json.loads(pathlib.Path(dist.locate_file(file)).read_text()))
print(json.dumps(found))
`

type pluginJSON struct {
	Resource bool   `json:"resource"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Server   string `json:"server"`
}

func (h *languageHost) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	tc, err := toolchainFor(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", listPluginsScript)
	if err != nil {
		return nil, err
	}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the program's Pulumi packages: %w", err)
	}
	var plugins []pluginJSON
	if err := json.Unmarshal(out, &plugins); err != nil {
		return nil, fmt.Errorf("listing the program's Pulumi packages: %w", err)
	}
	packages := []*pulumirpc.PackageDependency{}
	for _, p := range plugins {
		if !p.Resource || p.Name == "" {
			continue
		}
		packages = append(packages, &pulumirpc.PackageDependency{
			Name: p.Name, Kind: "resource", Version: strings.TrimPrefix(p.Version, "v"), Server: p.Server,
		})
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: packages}, nil
}

// executorArguments are the flags Pulumi's host passes its executor, in its order; empty values are left out.
func (h *languageHost) executorArguments(req *pulumirpc.RunRequest) []string {
	args := []string{h.executor}
	flagIfSet := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	flagIfSet("monitor", req.GetMonitorAddress())
	flagIfSet("engine", h.engineAddress)
	flagIfSet("project", req.GetProject())
	flagIfSet("root_directory", req.GetInfo().GetRootDirectory())
	flagIfSet("stack", req.GetStack())
	flagIfSet("pwd", req.GetPwd())
	flagIfSet("dry_run", strconv.FormatBool(req.GetDryRun()))
	flagIfSet("parallel", strconv.Itoa(int(req.GetParallel())))
	flagIfSet("organization", req.GetOrganization())
	args = append(args, req.GetInfo().GetEntryPoint())
	return append(args, req.GetArgs()...)
}

func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	tc, err := toolchainFor(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("failed to serialize configuration: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("failed to serialize configuration secret keys: %w", err)
	}

	// The program stops when the engine cancels (Cancel) or the request ends.
	runCtx, stop := context.WithCancel(h.runs)
	defer stop()
	context.AfterFunc(ctx, stop)
	cmd, err := tc.Command(runCtx, h.executorArguments(req)...)
	if err != nil {
		return nil, err
	}
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
	// The engine shows this process's standard streams as the program's own output.
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON))

	if err := cmd.Run(); err != nil {
		_ = os.Stdout.Sync()
		_ = os.Stderr.Sync()
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the language executor: %v", err)}, nil
		}
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.ExitStatus() == exitAfterUserActionableMessage {
			return &pulumirpc.RunResponse{Bail: true}, nil
		}
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("program exited with non-zero exit code: %d", exitErr.ExitCode()),
		}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

func (h *languageHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	// Dependencies come from `make setup` (the pinned requirements), never from the engine.
	return nil
}

func (h *languageHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, err := toolchainFor(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: info.PythonExecutable, Version: info.PythonVersion.String()}, nil
}

func (h *languageHost) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, err := toolchainFor(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	packages, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	deps := make([]*pulumirpc.DependencyInfo, 0, len(packages))
	for _, p := range packages {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

func (h *languageHost) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelRuns()
	return &emptypb.Empty{}, nil
}

// pluginManifest names the file that declared a plugin's runtime options, for error messages.
func pluginManifest(isPolicyPack bool) string {
	if isPolicyPack {
		return "PulumiPolicy.yaml"
	}
	return "PulumiPlugin.yaml"
}

// RunPlugin runs a Python plugin the engine starts through this host: a policy pack (kind `analyzer`, e.g.
// `pulumi preview --policy-pack policy`) or a plugin of another kind whose PulumiPlugin.yaml names the python
// runtime. As Pulumi's host does:
//
//   - a directory with `__main__.py` runs it: a policy pack as `python -u -m pulumi.policy <args> <pack dir>`
//     (what Pulumi's old pulumi-analyzer-policy-python shim ran), another plugin as `python <dir> <args>`;
//     without one, a buildable package (pyproject.toml) runs as `python -m pulumi.run.plugin <its name> <args>`
//     when its Pulumi SDK has that module;
//   - with the python of the virtualenv its manifest's runtime options declare (relative to its directory);
//   - a policy pack from its own directory (as policy packs always ran), another plugin from the engine's pwd;
//   - a policy pack gets the stack it judges in its environment (PULUMI_STACK, PULUMI_PROJECT,
//     PULUMI_ORGANIZATION, PULUMI_DRY_RUN, PULUMI_CONFIG): pulumi_policy reads them, not ConfigureStack. The
//     host first serves the engine sdk/v3's PolicyProxy, which takes ConfigureStack, then starts the pack and
//     forwards every other call to it;
//   - the plugin's stdout and stderr are streamed back, then its exit status.
//
// Unlike Pulumi's host, a virtualenv that is not one is refused before anything starts, naming the manifest.
func (h *languageHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	ctx := server.Context()
	if req.GetAttachDebugger() {
		return status.Error(codes.Unimplemented, "this language host cannot attach a debugger to a plugin")
	}
	isPolicyPack := req.GetKind() == string(apitype.AnalyzerPlugin)
	programDir := req.GetInfo().GetProgramDirectory()
	opts, err := pythonOptions(req.GetInfo(), !isPolicyPack)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(programDir, pluginManifest(isPolicyPack)), err)
	}
	if opts.Virtualenv != "" {
		venv := opts.Virtualenv
		if !filepath.IsAbs(venv) {
			venv = filepath.Join(opts.Root, venv)
		}
		if !toolchain.IsVirtualEnv(venv) {
			return fmt.Errorf("%s: runtime option virtualenv %q is %s, which is not a virtual environment; "+
				"create it (`make setup` for this project's) or point the option at one",
				filepath.Join(programDir, pluginManifest(isPolicyPack)), opts.Virtualenv, venv)
		}
	}
	tc, err := toolchain.ResolveToolchain(opts)
	if err != nil {
		return err
	}
	cmd, err := pluginCommand(ctx, tc, opts, req, isPolicyPack)
	if err != nil {
		return err
	}

	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	if isPolicyPack {
		cmd.Dir = programDir
	} else {
		cmd.Dir = req.GetPwd()
	}

	var proxy *sdk.PolicyProxy
	if isPolicyPack {
		proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout)
		if err != nil {
			return fmt.Errorf("could not start the policy pack proxy: %w", err)
		}
		config, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("could not get the stack configuration: %w", err)
		}
		stackEnv, err := policyPackEnvironment(config)
		if err != nil {
			return err
		}
		cmd.Env = append(cmd.Env, stackEnv...)
	}
	// The engine's environment for the plugin comes last, so it wins (as in Pulumi's host).
	cmd.Env = append(cmd.Env, req.GetEnv()...)
	cmd.Stdout, cmd.Stderr = stdout, stderr

	if err := runPluginProcess(ctx, cmd, proxy); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok {
				return server.Send(&pulumirpc.RunPluginResponse{
					Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(ws.ExitStatus())},
				})
			}
			return fmt.Errorf("plugin exited unexpectedly: %w", exitErr)
		}
		return fmt.Errorf("problem executing plugin program (could not run the plugin): %w", err)
	}
	return closer.Close()
}

// pluginCommand is the python command line of a plugin, as Pulumi's host builds it (RunPlugin says which).
func pluginCommand(
	ctx context.Context, tc toolchain.Toolchain, opts toolchain.PythonOptions, req *pulumirpc.RunPluginRequest,
	isPolicyPack bool,
) (*exec.Cmd, error) {
	programDir := req.GetInfo().GetProgramDirectory()
	_, err := os.Stat(filepath.Join(opts.Root, "__main__.py"))
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("looking for __main__.py: %w", err)
	}
	hasMainPy := err == nil

	// Pulumi's host asks python for pulumi.run.plugin on every start; only its answer without __main__.py
	// matters, so it is asked only then.
	if !hasMainPy && hasPluginRunModule(ctx, tc) {
		buildable, err := toolchain.IsBuildablePackage(opts.Root)
		if err != nil {
			return nil, fmt.Errorf("checking if plugin is a buildable package: %w", err)
		}
		if !buildable {
			return nil, errors.New("plugin is not runnable, it provides neither __main__.py nor a buildable pyproject.toml")
		}
		pyproject, err := toolchain.LoadPyproject(opts.Root)
		if err != nil {
			return nil, fmt.Errorf("loading pyproject: %w", err)
		}
		return tc.ModuleCommand(ctx, "pulumi.run.plugin", append([]string{pyproject.Project.Name}, req.GetArgs()...)...)
	}
	var args []string
	if isPolicyPack {
		// The program directory goes last for a policy pack, first for anything else.
		args = append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...)
		args = append(args, programDir)
	} else {
		args = append([]string{programDir}, req.GetArgs()...)
	}
	return tc.Command(ctx, args...)
}

// hasPluginRunModule says whether the plugin's Pulumi SDK can run it as a package (`pulumi.run.plugin`);
// as in Pulumi's host, only a ModuleNotFoundError means it cannot.
func hasPluginRunModule(ctx context.Context, tc toolchain.Toolchain) bool {
	cmd, err := tc.Command(ctx, "-c", "import pulumi.run.plugin")
	if err != nil {
		return true
	}
	out, err := cmd.CombinedOutput()
	return err == nil || !strings.Contains(string(out), "ModuleNotFoundError")
}

// policyPackEnvironment is what a policy pack learns of the stack it judges, from the engine's ConfigureStack
// (nil when the engine never sent one: no variables); empty values are left out, as in Pulumi's host.
func policyPackEnvironment(config *pulumirpc.AnalyzerStackConfigureRequest) ([]string, error) {
	if config == nil {
		return nil, nil
	}
	var env []string
	setIfNotEmpty := func(name, value string) {
		if value != "" {
			env = append(env, name+"="+value)
		}
	}
	setIfNotEmpty("PULUMI_ORGANIZATION", config.GetOrganization())
	setIfNotEmpty("PULUMI_PROJECT", config.GetProject())
	setIfNotEmpty("PULUMI_STACK", config.GetStack())
	setIfNotEmpty("PULUMI_DRY_RUN", strconv.FormatBool(config.GetDryRun()))
	if config.GetConfig() != nil {
		configJSON, err := json.Marshal(config.GetConfig())
		if err != nil {
			return nil, fmt.Errorf("could not serialize the stack configuration: %w", err)
		}
		setIfNotEmpty("PULUMI_CONFIG", string(configJSON))
	}
	return env, nil
}

// runPluginProcess starts the plugin and waits for it; a policy pack's proxy attaches to it and waits instead.
func runPluginProcess(ctx context.Context, cmd *exec.Cmd, proxy *sdk.PolicyProxy) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	if proxy != nil {
		if err := proxy.Attach(ctx, cmd); err != nil {
			return fmt.Errorf("could not attach the policy pack proxy: %w", err)
		}
		return nil
	}
	return cmd.Wait()
}
