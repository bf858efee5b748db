using System.Runtime.InteropServices;
using Lathe.Training;

namespace Lathe.Cli.Verbs;

/// <summary>What pretrain and demo share on the terminal: the progress line on stderr (redrawn in place with
/// \r on a TTY, one line per report otherwise) and Ctrl-C / SIGTERM turned into a cancellation the trainer
/// answers by writing a checkpoint.</summary>
internal sealed class TrainingConsole : IDisposable
{
    readonly CancellationTokenSource _cancel = new();
    readonly PosixSignalRegistration? _sigterm, _sigint;
    readonly bool _tty = !Console.IsErrorRedirected;
    long _lastPrint;
    int _lastLength;

    public CancellationToken Token => _cancel.Token;

    public TrainingConsole()
    {
        try
        {
            _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        }
        catch (PlatformNotSupportedException) { Console.CancelKeyPress += (_, e) => { e.Cancel = true; _cancel.Cancel(); Lathe.IO.KillPoints.Release(); }; }
    }

    void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;   // let the trainer finish its step and write the checkpoint
        bool first = !_cancel.IsCancellationRequested;
        // Cancel before releasing a kill test's pause: released first, a fast run could finish its last steps before
        // the cancellation was set, and end 0 instead of answering the signal.
        _cancel.Cancel();
        Lathe.IO.KillPoints.Release();   // a kill test paused us to receive this signal: go on now
        if (first) Console.Error.Write(_tty ? "\nlathe: interrupted — writing checkpoint…\n" : "lathe: interrupted — writing checkpoint…\n");
    }

    public void Report(TrainingProgress p)
    {
        long now = Environment.TickCount64;
        bool last = p.Step == p.TotalSteps;
        if (!last && now - _lastPrint < (_tty ? 200 : 5000)) return;
        _lastPrint = now;
        string val = p.ValidationLoss is { } v ? $"  val {v:F4}" : "";
        string eta = p.Eta.TotalHours >= 1 ? p.Eta.ToString(@"h\:mm\:ss") : p.Eta.ToString(@"m\:ss");
        int width = 24, filled = (int)((long)width * p.Step / p.TotalSteps);
        string line = $"[{new string('#', filled)}{new string('.', width - filled)}] step {p.Step}/{p.TotalSteps}  loss {p.Loss:F4}{val}  {p.TokensPerSecond:F0} tok/s  ETA {eta}";
        if (_tty)
        {
            Console.Error.Write("\r" + line + (line.Length < _lastLength ? new string(' ', _lastLength - line.Length) : ""));
            _lastLength = line.Length;
            if (last) Console.Error.WriteLine();
        }
        else Console.Error.WriteLine(line);
    }

    /// <summary>Ends an in-place line before other output.</summary>
    public void EndLine()
    {
        if (_tty && _lastLength > 0) { Console.Error.WriteLine(); _lastLength = 0; }
    }

    public void Dispose()
    {
        _sigint?.Dispose();
        _sigterm?.Dispose();
        _cancel.Dispose();
    }
}
