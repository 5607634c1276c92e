// `ts-trip-booking`: the TypeScript twin of examples/js/trip-booking, the
// trip-booking saga, typed. Input `{"traveller": "ada", "car": "unavailable", "compensation_delay_ms": 0}`;
// output the three booking references.

import { defineWorkflow, Saga } from '../../../guest-sdk/js/src/workflow.js';

interface TripInput {
  traveller: string;
  car?: string;
  compensation_delay_ms?: number;
}

interface Booking {
  reference: string;
}

export const { run, handlers, query } = defineWorkflow((ctx, input: TripInput): string[] => {
  // The defaults the Rust version's input type fills in, so that both record
  // the same activity inputs.
  const trip: Required<TripInput> = {
    traveller: input.traveller,
    car: input.car ?? '',
    compensation_delay_ms: input.compensation_delay_ms ?? 0,
  };
  const saga = new Saga();
  try {
    const flight = ctx.activity<Booking>('book_flight', trip);
    saga.add('cancel_flight', flight);
    const hotel = ctx.activity<Booking>('book_hotel', trip);
    saga.add('cancel_hotel', hotel);
    const car = ctx.activity<Booking>('book_car', trip);
    saga.add('cancel_car', car);
    return [flight.reference, hotel.reference, car.reference];
  } catch (e) {
    throw saga.compensateAndFail(ctx, e);
  }
});
