using System;
using System.Threading.Tasks;

namespace Shop.Billing
{
    public record Invoice(string Number, decimal Amount, bool Paid);

    public interface IPaymentGateway
    {
        Task<bool> ChargeAsync(string account, decimal amount);
    }

    public sealed class Biller
    {
        private readonly IPaymentGateway gateway;

        public Biller(IPaymentGateway gateway) => this.gateway = gateway ?? throw new ArgumentNullException(nameof(gateway));

        public async Task<Invoice> SettleAsync(Invoice invoice, string account)
        {
            if (invoice.Paid)
            {
                return invoice;
            }
            bool ok = await gateway.ChargeAsync(account, invoice.Amount).ConfigureAwait(false);
            return ok ? invoice with { Paid = true } : invoice;
        }
    }
}
