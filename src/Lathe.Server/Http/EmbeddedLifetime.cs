using Microsoft.Extensions.Hosting;

namespace Lathe.Server.Http;

/// <summary>A host lifetime that leaves the process's signals alone: the server is a library, and whoever runs it (the
/// `lathe serve` verb, a test) decides when to stop — the default console lifetime would take Ctrl-C for itself.</summary>
internal sealed class EmbeddedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
