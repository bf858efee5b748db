using System.CommandLine;
using System.CommandLine.Help;
using Lathe.Cli;

// The `lathe` command: one verb per stage, one file per verb (Verbs/). Errors at the edge become
// one-line messages and exit codes: 0 success, 1 runtime failure, 2 bad arguments or bad input.
// The root is a plain command named `lathe` (a RootCommand takes its name from the executable, which `dotnet
// Lathe.Cli.dll` makes "Lathe.Cli"), with RootCommand's help and version options.
var root = new Command("lathe", "Lathe: a large-language-model system in pure C#.") { new HelpOption(), new VersionOption() };
foreach (Command verb in VerbRegistry.All())
    root.Subcommands.Add(verb);
return CliRunner.Run(root, args);
