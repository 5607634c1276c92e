// `js-trip-booking`: the trip-booking saga of examples/trip-booking, in
// JavaScript, calling the same Rust activities (examples/hello-activities).
// Books a flight, a hotel and a car; when a step fails (input
// `"car": "unavailable"`) or the workflow is cancelled, the bookings made so
// far are cancelled in reverse order (hotel, then flight), each as a retried
// activity, and the original error is thrown.
//
// Input `{"traveller": "ada", "car": "unavailable", "compensation_delay_ms": 0}`;
// output the three booking references.

import { defineWorkflow, Saga } from '../../../guest-sdk/js/src/workflow.js';

export const { run, handlers, query } = defineWorkflow((ctx, input) => {
  // The defaults the Rust version's input type fills in, so that both record
  // the same activity inputs.
  const trip = {
    traveller: input.traveller,
    car: input.car ?? '',
    compensation_delay_ms: input.compensation_delay_ms ?? 0,
  };
  const saga = new Saga();
  try {
    const flight = ctx.activity('book_flight', trip);
    saga.add('cancel_flight', flight);
    const hotel = ctx.activity('book_hotel', trip);
    saga.add('cancel_hotel', hotel);
    const car = ctx.activity('book_car', trip);
    saga.add('cancel_car', car);
    return [flight.reference, hotel.reference, car.reference];
  } catch (e) {
    throw saga.compensateAndFail(ctx, e);
  }
});
